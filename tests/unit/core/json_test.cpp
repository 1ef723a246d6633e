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

namespace ktrail {
namespace {

// RapidJSON's SSE2 string scanner once let 0x1A-0x1F through depending on where the byte fell
// in a 16-byte block: every raw control character is refused, wherever it is.
TEST(JsonExactness, RawControlCharactersAreRefusedAtEveryAlignment) {
  for (int c = 0; c < 0x20; ++c) {
    for (std::size_t at = 0; at < 40; ++at) {
      std::string text = "{\"k\":\"" + std::string(40, 'a') + "\"}";
      text[6 + at] = static_cast<char>(c);
      rapidjson::Document doc;
      EXPECT_FALSE(json::parse(text, &doc).is_ok()) << "byte " << c << " at " << at;
      if (c != '\t' && c != '\n' && c != '\r') {  // those the parser refuses inside strings
        EXPECT_EQ(json::check_text(text).kind, json::TextCheck::kControlCharacter);
      }
    }
  }
  // As white space between tokens, tab, LF and CR are fine.
  rapidjson::Document doc;
  EXPECT_TRUE(json::parse("{\t\"k\"\r\n:1}", &doc).is_ok());
}

TEST(JsonExactness, LoneSurrogatesAreRefusedLowAsHigh) {
  rapidjson::Document doc;
  for (const char* bad : {R"({"k":"\udc00"})", R"({"k":"\ud800"})", R"({"k":"\ud800x"})",
                          R"({"k":"\ud800\u0041"})", R"({"k":"a\uDFFFb"})", R"({"\udc00":1})"}) {
    EXPECT_FALSE(json::parse(bad, &doc).is_ok()) << bad;
  }
  for (const char* good :
       {R"({"k":"\ud83d\ude00"})", R"({"k":"\\udc00"})", R"({"k":"\u00e9\\"})", R"({"k":"\uFFFF"})"}) {
    EXPECT_TRUE(json::parse(good, &doc).is_ok()) << good;
    EXPECT_TRUE(json::valid_utf8(json::to_compact(doc))) << good;
  }
}

TEST(JsonExactness, CompactMeansTheDocumentSpellsEveryNumberTheSame) {
  for (const char* verbatim : {R"({"a":0,"b":-1,"c":18446744073709551615,"d":-9223372036854775808})",
                               R"({"a":"-0","b":"123456789012345678901234"})"}) {
    EXPECT_TRUE(json::is_compact_object(verbatim)) << verbatim;
    rapidjson::Document doc;
    ASSERT_TRUE(json::parse(verbatim, &doc).is_ok());
    EXPECT_EQ(json::to_compact(doc), verbatim);
  }
  for (const char* changed : {R"({"a":-0})", R"({"a":18446744073709551616})",
                              R"({"a":[-9223372036854775809]})", R"({"a":123456789012345678901234})"}) {
    EXPECT_FALSE(json::is_compact_object(changed)) << changed;
    rapidjson::Document doc;
    ASSERT_TRUE(json::parse(changed, &doc).is_ok());
    EXPECT_NE(json::to_compact(doc), changed);
  }
}

}  // namespace
}  // namespace ktrail
