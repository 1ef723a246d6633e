#include "ingest/auth.h"
#include "ingest/cluster_auth.h"

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

namespace ktrail::ingest {
namespace {

TEST(TokenAuthenticator, ALineMayNameTheTokensCluster) {
  auto auth = TokenAuthenticator::from_text("tok-a,alpha\n tok-b , beta \nplain\ntok-a2,alpha\n", "t");
  ASSERT_TRUE(auth.is_ok()) << auth.status().to_string();
  EXPECT_EQ(auth->size(), 4u);
  std::string cluster = "unset";
  EXPECT_TRUE(auth->check("Bearer tok-a", &cluster));
  EXPECT_EQ(cluster, "alpha");
  EXPECT_TRUE(auth->check("Bearer tok-b", &cluster));
  EXPECT_EQ(cluster, "beta");
  EXPECT_TRUE(auth->check("Bearer plain", &cluster));
  EXPECT_EQ(cluster, "");
  EXPECT_TRUE(auth->check("Bearer tok-a2", &cluster));
  EXPECT_EQ(cluster, "alpha");
  EXPECT_FALSE(auth->check("Bearer tok-a,alpha", &cluster));  // the line is not the token
  EXPECT_FALSE(auth->check("Bearer alpha", &cluster));
}

TEST(TokenAuthenticator, MalformedClusterLinesNameTheLineNotTheToken) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"\n\nsecret1,\n", "line 3: cluster name is empty"},
      {",alpha\n", "line 1: no token before the comma"},
      {"secret1,a,b\n", "line 1: more than one comma"},
      {"secret1,-alpha\n", "is not a cluster name"},
      {"secret1,al/pha\n", "is not a cluster name"},
      {"secret1," + std::string(64, 'x') + "\n", "is not a cluster name"},
      {"secret1,alpha\nsecret1,beta\n", "line 2: a token listed before names another cluster"},
      {"sec ret1,alpha\n", "white space"},
      {"sec\x7fret1\n", "control character"},
  };
  for (const auto& [text, why] : bad) {
    auto auth = TokenAuthenticator::from_text(text, "tokens.txt");
    ASSERT_FALSE(auth.is_ok()) << text;
    EXPECT_NE(auth.status().message().find("tokens.txt"), std::string::npos);
    EXPECT_NE(auth.status().message().find(why), std::string::npos) << auth.status().message();
    EXPECT_EQ(auth.status().message().find("secret1"), std::string::npos)
        << auth.status().message();
  }
  // The same token on two lines with the same cluster is harmless.
  EXPECT_TRUE(TokenAuthenticator::from_text("t1,alpha\nt1,alpha\n", "t").is_ok());
}

TEST(ClientClusterMap, CnThenSansAndHostileLines) {
  auto map = ClientClusterMap::from_text(
      "# identity,cluster\nkube-apiserver, prod\nO=x, CN=odd,staging\napi.dev.example.com,dev\n",
      "m");
  ASSERT_TRUE(map.is_ok()) << map.status().to_string();
  EXPECT_EQ(map->size(), 3u);
  EXPECT_EQ(map->cluster_of({"kube-apiserver"}), "prod");
  EXPECT_EQ(map->cluster_of({"O=x, CN=odd"}), "staging");  // split at the last comma
  EXPECT_EQ(map->cluster_of({"unknown-cn", "api.dev.example.com"}), "dev");
  EXPECT_EQ(map->cluster_of({"kube-apiserver", "api.dev.example.com"}), "prod");  // CN first
  EXPECT_EQ(map->cluster_of({"nobody"}), "");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"no-comma\n", "line 1: expected IDENTITY,cluster"},
      {" ,prod\n", "line 1: no certificate identity"},
      {"a,prod\na,dev\n", "line 2: identity \"a\" is mapped to cluster \"prod\""},
      {"a,\n", "cluster name is empty"},
      {"a,b c\n", "is not a cluster name"},
      {"a\x01,prod\n", "control character"},
  };
  for (const auto& [text, why] : bad) {
    auto m = ClientClusterMap::from_text(text, "map.txt");
    ASSERT_FALSE(m.is_ok()) << text;
    EXPECT_NE(m.status().message().find("map.txt"), std::string::npos);
    EXPECT_NE(m.status().message().find(why), std::string::npos) << m.status().message();
  }
  EXPECT_FALSE(ClientClusterMap::from_file("/nonexistent/map").is_ok());
}

TEST(DecideCluster, CredentialFirstPathSecondDefaultLast) {
  EXPECT_EQ(decide_cluster({}).cluster, "default");
  EXPECT_EQ(decide_cluster({"", "", "east"}).cluster, "east");
  EXPECT_EQ(decide_cluster({"a", "", ""}).cluster, "a");
  EXPECT_EQ(decide_cluster({"a", "", "a"}).cluster, "a");
  EXPECT_EQ(decide_cluster({"", "c", ""}).cluster, "c");
  EXPECT_EQ(decide_cluster({"a", "a", "a"}).cluster, "a");
  const ClusterDecision claim = decide_cluster({"a", "", "b"});
  EXPECT_TRUE(claim.cluster.empty());
  EXPECT_NE(claim.refused_reason.find("\"b\""), std::string::npos) << claim.refused_reason;
  EXPECT_FALSE(decide_cluster({"", "c", "b"}).refused_reason.empty());
  EXPECT_FALSE(decide_cluster({"a", "c", ""}).refused_reason.empty());
  EXPECT_FALSE(decide_cluster({"a", "c", "a"}).refused_reason.empty());
}

}  // namespace
}  // namespace ktrail::ingest
