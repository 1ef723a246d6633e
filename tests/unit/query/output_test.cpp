#include "query/output.h"
#include "query/row_writer.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sstream>

namespace ktrail::query {
namespace {

Table sample() {
  Table t;
  t.columns = {{"name", ""}, {"count", ""}, {"tags", ""}, {"note", "REMARK"}};
  t.rows.push_back(
      {Value::string("alice"), Value::integer(3), Value::json(R"(["a","b"])"), Value::null()});
  t.rows.push_back({Value::string("b,o\"b\"\nx"), Value::integer(-12), Value::json("[]"),
                    Value::string("plain")});
  return t;
}

std::string rendered(const Table& t, OutputFormat f) {
  std::ostringstream out;
  render(t, f, out);
  return out.str();
}

TEST(Output, ParseFormat) {
  EXPECT_EQ(*parse_output_format("table"), OutputFormat::kTable);
  EXPECT_EQ(*parse_output_format("json"), OutputFormat::kJson);
  EXPECT_EQ(*parse_output_format("csv"), OutputFormat::kCsv);
  EXPECT_EQ(*parse_output_format("yaml"), OutputFormat::kYaml);
  EXPECT_EQ(*parse_output_format("jsonl"), OutputFormat::kJsonl);
  EXPECT_EQ(*parse_output_format("wide"), OutputFormat::kWide);
  auto bad = parse_output_format("xml");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("table, wide, json, jsonl, yaml, csv, name or jsonpath"),
            std::string::npos);
}

TEST(Output, CsvQuotesCommasQuotesAndNewlines) {
  EXPECT_EQ(rendered(sample(), OutputFormat::kCsv),
            "name,count,tags,note\r\n"
            "alice,3,\"[\"\"a\"\",\"\"b\"\"]\",\r\n"
            "\"b,o\"\"b\"\"\nx\",-12,[],plain\r\n");
}

TEST(Output, JsonIsAnArrayOfObjectsWithTypedValues) {
  const std::string text = rendered(sample(), OutputFormat::kJson);
  rapidjson::Document d;
  ASSERT_FALSE(d.Parse(text.c_str()).HasParseError()) << text;
  ASSERT_TRUE(d.IsArray());
  ASSERT_EQ(d.Size(), 2u);
  const auto& first = d[0];
  EXPECT_STREQ(first["name"].GetString(), "alice");
  EXPECT_EQ(first["count"].GetInt(), 3);
  ASSERT_TRUE(first["tags"].IsArray());
  EXPECT_STREQ(first["tags"][1].GetString(), "b");
  EXPECT_TRUE(first["note"].IsNull());
  EXPECT_STREQ(d[1]["name"].GetString(), "b,o\"b\"\nx");
  // Keys come in column order.
  auto it = first.MemberBegin();
  EXPECT_STREQ(it->name.GetString(), "name");
  ++it;
  EXPECT_STREQ(it->name.GetString(), "count");
}

TEST(Output, EmptyJsonIsAnEmptyArray) {
  Table t;
  t.columns = {{"a", ""}};
  EXPECT_EQ(rendered(t, OutputFormat::kJson), "[]\n");
}

TEST(Output, TableAlignsColumnsAndShowsNone) {
  Table t;
  t.columns = {{"user", ""}, {"code", ""}, {"note", "REMARK"}};
  t.rows.push_back({Value::string("alice"), Value::integer(200), Value::null()});
  t.rows.push_back({Value::string("system:node:n1"), Value::integer(403), Value::string("x\ny")});
  EXPECT_EQ(rendered(t, OutputFormat::kTable),
            "USER             CODE   REMARK\n"
            "alice            200    <none>\n"
            "system:node:n1   403    x y\n");
}

}  // namespace
}  // namespace ktrail::query

namespace ktrail::query {
namespace {

TEST(Output, JsonLinesAndYamlHoldTheSameTypedValues) {
  const std::string lines = rendered(sample(), OutputFormat::kJsonl);
  EXPECT_EQ(lines,
            "{\"name\":\"alice\",\"count\":3,\"tags\":[\"a\",\"b\"],\"note\":null}\n"
            "{\"name\":\"b,o\\\"b\\\"\\nx\",\"count\":-12,\"tags\":[],\"note\":\"plain\"}\n");
  EXPECT_EQ(rendered(sample(), OutputFormat::kYaml),
            "- name: \"alice\"\n  count: 3\n  tags: [\"a\",\"b\"]\n  note: null\n"
            "- name: \"b,o\\\"b\\\"\\nx\"\n  count: -12\n  tags: []\n  note: \"plain\"\n");
  Table empty;
  empty.columns = {{"a", ""}};
  EXPECT_EQ(rendered(empty, OutputFormat::kYaml), "[]\n");
  EXPECT_EQ(rendered(empty, OutputFormat::kJsonl), "");
}

// JSON values are written in the writer's own layout whatever their text's: compact text that
// is already in that layout is written without parsing, and everything else is re-emitted, so
// both must give what re-emitting gives.
TEST(Output, JsonValuesComeOutInOneLayoutWhateverTheirText) {
  const std::vector<std::string> texts = {
      "[]", R"(["a"])", R"(["system:masters","system:authenticated"])", R"([ "a" ])",
      R"(["a", "b"])", R"(["a\u0041"])", R"(["a\"b"])", "[\"caf\xC3\xA9\"]", R"([1,2])",
      R"([["a"]])", R"({"k":"v"})", R"(["a",])", R"(["a")", R"([""])", R"(["",""])", "[\"a\tb\"]",
      "not json"};
  for (const std::string& text : texts) {
    Table t;
    t.columns = {{"v", ""}};
    t.rows.push_back({Value::json(text)});
    rapidjson::Document d;
    std::string value;
    if (d.Parse(text.c_str()).HasParseError()) {
      rapidjson::StringBuffer b;
      rapidjson::Writer<rapidjson::StringBuffer> w(b);
      w.String(text.c_str());
      value = b.GetString();
    } else {
      rapidjson::StringBuffer b;
      rapidjson::Writer<rapidjson::StringBuffer> w(b);
      d.Accept(w);
      value = b.GetString();
    }
    EXPECT_EQ(rendered(t, OutputFormat::kJsonl), "{\"v\":" + value + "}\n") << text;
    EXPECT_EQ(rendered(t, OutputFormat::kYaml), "- v: " + value + "\n") << text;
  }
}

// A template runs on the rows as -o json writes them: the same numbers, whether it streams over
// the items or needs the whole list.
TEST(Output, JsonPathSeesWhatJsonWrites) {
  Table t;
  t.columns = {{"n", ""}, {"x", ""}, {"tags", ""}, {"s", ""}};
  t.rows.push_back({Value::integer(-7), Value::real(3.0), Value::json(R"([ "a", "b" ])"),
                    Value::string("q\"t")});
  t.rows.push_back({Value::integer(1), Value::real(0.25), Value::json("[]"), Value::null()});
  EXPECT_EQ(rendered(t, OutputFormat::kJsonl),
            "{\"n\":-7,\"x\":3,\"tags\":[\"a\",\"b\"],\"s\":\"q\\\"t\"}\n"
            "{\"n\":1,\"x\":0.25,\"tags\":[],\"s\":null}\n");
  for (const std::string text :
       {R"({range .items[*]}{.n} {.x} {.tags[1]} {.s};{end})",
        R"({range .items[*]}{.n} {.x} {.tags[1]} {.s};{$.none}{end})"}) {
    auto path = JsonPath::compile(text);
    ASSERT_TRUE(path.is_ok()) << path.status().to_string();
    RowWriterOptions options;
    options.jsonpath = std::make_shared<const JsonPath>(std::move(*path));
    std::ostringstream out;
    render(t, OutputFormat::kJsonPath, out, options);
    EXPECT_EQ(out.str(), "-7 3 b q\"t;1 0.25  ;") << text;
  }
}

TEST(Output, TablesFitAGivenWidthWithEllipses) {
  Table t;
  t.columns = {{"time", ""}, {"message", ""}};
  for (int i = 0; i < 3; ++i) {
    t.rows.push_back({Value::string("2026-01-0" + std::to_string(i + 1) + "T00:00:00Z"),
                      Value::string("a long message that does not fit ünïcode")});
  }
  std::ostringstream out;
  render(t, OutputFormat::kTable, out, 40);
  // The fixed-width time column stays whole; the message is cut to fit, ending in "…".
  EXPECT_EQ(out.str(),
            "TIME                   MESSAGE\n"
            "2026-01-01T00:00:00Z   a long message t\xE2\x80\xA6\n"
            "2026-01-02T00:00:00Z   a long message t\xE2\x80\xA6\n"
            "2026-01-03T00:00:00Z   a long message t\xE2\x80\xA6\n");
  std::ostringstream wide;
  render(t, OutputFormat::kWide, wide, 40);
  EXPECT_NE(wide.str().find("ünïcode"), std::string::npos);
  EXPECT_EQ(cut_to_width("ünïcode", 4), "ünï\xE2\x80\xA6");
  EXPECT_EQ(cut_to_width("abc", 3), "abc");
}

}  // namespace
}  // namespace ktrail::query
