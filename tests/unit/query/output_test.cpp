#include "query/output.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

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
  auto bad = parse_output_format("yaml");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("table, json or csv"), std::string::npos);
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
