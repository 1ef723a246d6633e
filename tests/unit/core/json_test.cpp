#include "core/json.h"

#include <gtest/gtest.h>

#include <string>

namespace ktrail {
namespace {

TEST(Json, ParseErrorNamesTheOffset) {
  rapidjson::Document doc;
  Status s = json::parse(R"({"a": [1, 2,}])", &doc);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kParseError);
  EXPECT_NE(s.message().find("offset 12"), std::string::npos) << s.message();
}

TEST(Json, RefusesTrailingData) {
  rapidjson::Document doc;
  EXPECT_FALSE(json::parse("{} {}", &doc).is_ok());
  EXPECT_TRUE(json::parse("{}\n", &doc).is_ok());
}

TEST(Json, RefusesHostileNesting) {
  rapidjson::Document doc;
  std::string deep(100000, '[');
  Status s = json::parse(deep, &doc);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("nested deeper"), std::string::npos) << s.message();
  std::string ok(200, '[');
  ok += std::string(200, ']');
  EXPECT_TRUE(json::parse(ok, &doc).is_ok());
}

TEST(Json, RefusesInvalidUtf8) {
  rapidjson::Document doc;
  EXPECT_FALSE(json::parse("{\"a\":\"\xff\xfe\"}", &doc).is_ok());
}

TEST(Json, CompactRoundTrip) {
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(R"({ "a" : [ 1 , "x" ] , "b" : null })", &doc).is_ok());
  EXPECT_EQ(json::to_compact(doc), R"({"a":[1,"x"],"b":null})");
  EXPECT_EQ(json::get_string(doc, "a"), "");
}

}  // namespace
}  // namespace ktrail
