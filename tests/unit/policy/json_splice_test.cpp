// The byte-level member splice used to lower levels without a parse: it must agree with a
// real JSON parser on every shape, and refuse what it cannot read.
#include "processors/json_splice.h"

#include <gtest/gtest.h>

#include "core/json.h"

namespace ktrail {
namespace {

std::string splice(const std::string& in, SpliceEdit edit) {
  std::string out;
  EXPECT_TRUE(splice_top_level(in, edit, &out)) << in;
  rapidjson::Document d;
  EXPECT_TRUE(json::parse(out, &d).is_ok()) << out;
  return out;
}

TEST(JsonSplice, DropsMembersAndSetsTheLevel) {
  SpliceEdit e;
  e.drop_request_object = true;
  e.drop_response_object = true;
  e.level = "Metadata";
  EXPECT_EQ(splice(R"({"requestObject":{"a":[1,{"b":"}"}]},"level":"RequestResponse","x":1,)"
                   R"("responseObject":[{"s":"\"{["}],"y":"z"})",
                   e),
            R"({"level":"Metadata","x":1,"y":"z"})");
  // Members that only look alike, nested objects of that name, and escapes stay.
  EXPECT_EQ(splice(R"({"level":"Request","nested":{"requestObject":1},"k":"requestObject\\",)"
                   R"("requestObject":null})",
                   e),
            R"({"level":"Metadata","nested":{"requestObject":1},"k":"requestObject\\"})");
  // White space between tokens.
  EXPECT_EQ(splice("{ \"level\" : \"Request\" ,\n \"requestObject\" : { } , \"n\" : -1.5e3 }", e),
            R"({"level":"Metadata","n" : -1.5e3})");
  // Only the response object.
  SpliceEdit r;
  r.drop_response_object = true;
  r.level = "Request";
  EXPECT_EQ(
      splice(R"({"requestObject":{"a":1},"responseObject":{"b":2},"level":"RequestResponse"})", r),
      R"({"requestObject":{"a":1},"level":"Request"})");
}

TEST(JsonSplice, RefusesWhatItCannotRead) {
  SpliceEdit e;
  e.level = "Metadata";
  std::string out;
  for (const char* bad : {"", "[]", "{", R"({"level":"x")", R"({"level":"x"} extra)",
                          R"({"level" "x"})", R"({"a":"unterminated})", R"({"a":{"b":1})",
                          R"({"level":"x",})", R"({level:"x"})", R"({"no":"level"})"}) {
    EXPECT_FALSE(splice_top_level(bad, e, &out)) << bad;
  }
}

}  // namespace
}  // namespace ktrail
