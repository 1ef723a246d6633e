#include "core/json.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

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

TEST(Json, EncodingIsCheckedWhereverTheNonAsciiByteIs) {
  rapidjson::Document doc;
  // Valid UTF-8 (2, 3 and 4 bytes) is accepted, in keys and values, at any position.
  EXPECT_TRUE(json::parse("{\"caf\xc3\xa9\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}", &doc).is_ok());
  ASSERT_TRUE(json::parse("[\"\xc3\xa9\"]", &doc).is_ok());
  EXPECT_EQ(std::string(doc[0].GetString()), "\xc3\xa9");
  // Invalid sequences are refused whether they come first, last or after a long ASCII run
  // (the ASCII check reads 8 bytes at a time).
  const std::string run(61, 'a');
  for (const std::string bad : {"\xff", "\xc3", "\xc3\x28", "\xe2\x82", "\xed\xa0\x80",
                                "\xf8\x88\x80\x80\x80", "\xc0\xaf"}) {
    EXPECT_FALSE(json::parse("{\"a\":\"" + bad + "\"}", &doc).is_ok()) << "bad: " << bad.size();
    EXPECT_FALSE(json::parse("{\"" + run + "\":\"" + run + bad + "\"}", &doc).is_ok());
    EXPECT_FALSE(json::parse("{\"" + bad + run + "\":1}", &doc).is_ok());
  }
  // ASCII text with escapes still has its escapes checked.
  EXPECT_TRUE(json::parse("{\"a\":\"\\u00e9\\ud83d\\ude00\"}", &doc).is_ok());
  EXPECT_FALSE(json::parse("{\"a\":\"\\ud83d\"}", &doc).is_ok());  // lone surrogate
  EXPECT_FALSE(json::parse("{\"a\":\"\\u12\"}", &doc).is_ok());
}

TEST(Json, EncodingVerdictMatchesTheParsersOwnCheck) {
  // Strings of ASCII, valid sequences and random bytes: json::parse must accept exactly what
  // RapidJSON's validating parse accepts.
  std::mt19937 rng(11);
  const std::vector<std::string> pieces = {"a",
                                           "bcdefghij",
                                           "\xc2\xb5s",
                                           "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80",
                                           "\xed\x9f\xbf",
                                           "\xf4\x8f\xbf\xbf"};
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string body;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      if (rng() % 6 == 0) {
        body += static_cast<char>(0x80 + rng() % 0x80);  // a random high byte
      } else {
        body += pieces[rng() % pieces.size()];
      }
    }
    const std::string text = "{\"k\":\"" + body + "\"}";
    rapidjson::Document reference;
    reference.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
    rapidjson::Document doc;
    const bool ours = json::parse(text, &doc).is_ok();
    ASSERT_EQ(ours, !reference.HasParseError()) << "round " << round;
    accepted += ours ? 1 : 0;
  }
  EXPECT_GT(accepted, 1000);
  EXPECT_LT(accepted, 19000);
}

TEST(Json, CompactRoundTrip) {
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(R"({ "a" : [ 1 , "x" ] , "b" : null })", &doc).is_ok());
  EXPECT_EQ(json::to_compact(doc), R"({"a":[1,"x"],"b":null})");
  EXPECT_EQ(json::get_string(doc, "a"), "");
}

}  // namespace
}  // namespace ktrail
