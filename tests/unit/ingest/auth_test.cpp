#include "ingest/auth.h"

#include <gtest/gtest.h>

#include "tests/support/test_env.h"

namespace ktrail::ingest {
namespace {

TEST(TokenAuthenticator, AcceptsListedTokensOnly) {
  auto auth = TokenAuthenticator::from_text("# webhook tokens\n\n  s3cret-one  \nsecond\r\n", "t");
  ASSERT_TRUE(auth.is_ok()) << auth.status().to_string();
  EXPECT_EQ(auth->size(), 2u);
  EXPECT_TRUE(auth->check("Bearer s3cret-one"));
  EXPECT_TRUE(auth->check("bearer second"));
  EXPECT_TRUE(auth->check("BEARER   second  "));
  EXPECT_FALSE(auth->check("Bearer s3cret"));       // a prefix
  EXPECT_FALSE(auth->check("Bearer s3cret-one2"));  // an extension
  EXPECT_FALSE(auth->check("Basic s3cret-one"));
  EXPECT_FALSE(auth->check("s3cret-one"));
  EXPECT_FALSE(auth->check(""));
  EXPECT_FALSE(auth->check("Bearer "));
  EXPECT_FALSE(auth->check("Bearer # webhook tokens"));  // comments are not tokens
}

TEST(TokenAuthenticator, EmptyOrMissingFileIsAnError) {
  EXPECT_FALSE(TokenAuthenticator::from_text("# only a comment\n\n", "t").is_ok());
  auto missing = TokenAuthenticator::from_file("/nonexistent/tokens");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/tokens"), std::string::npos);
}

TEST(TokenAuthenticator, ReadsAFile) {
  testing::TempDir dir;
  testing::write_file(dir.file("tokens"), "abc\n");
  auto auth = TokenAuthenticator::from_file(dir.file("tokens"));
  ASSERT_TRUE(auth.is_ok());
  EXPECT_TRUE(auth->check("Bearer abc"));
}

}  // namespace
}  // namespace ktrail::ingest
