// -o jsonpath (query/jsonpath.h) and -o name: what a template selects, what it refuses, and that
// a list streamed item by item prints what the whole list does.
#include "query/jsonpath.h"

#include <gtest/gtest.h>

#include <sstream>

#include "query/row_writer.h"

namespace ktrail::query {
namespace {

std::string run(const std::string& tmpl, const std::string& json) {
  auto path = JsonPath::compile(tmpl);
  EXPECT_TRUE(path.is_ok()) << tmpl << ": " << path.status().message();
  if (!path) {
    return "<error>";
  }
  rapidjson::Document d;
  EXPECT_FALSE(d.Parse(json.c_str()).HasParseError());
  std::string out;
  path->execute(d, &out);
  return out;
}

const char* kList =
    R"({"kind":"List","items":[)"
    R"({"id":"a","n":1,"r":2.5,"ok":true,"none":null,"tags":["x","y"],"o":{"k.d":"v","m":{"z":1}}},)"
    R"({"id":"b","n":2,"r":0.5,"ok":false,"none":null,"tags":[],"o":{"k.d":"w"}}]})";

TEST(JsonPath, SelectsLikeKubectl) {
  EXPECT_EQ(run("{.kind}", kList), "List");
  EXPECT_EQ(run("{$.kind}", kList), "List");
  EXPECT_EQ(run("{.items[*].id}", kList), "a b");
  EXPECT_EQ(run("{.items[0].n} {.items[-1].n} {.items[2].n}|", kList), "1 2 |");
  EXPECT_EQ(run("{.items[*].r}", kList), "2.5 0.5");
  EXPECT_EQ(run("{.items[*].ok}", kList), "true false");
  EXPECT_EQ(run("[{.items[0].none}]", kList), "[]");
  EXPECT_EQ(run("{.items[0].tags}", kList), R"(["x","y"])");
  EXPECT_EQ(run("{.items[0].tags[*]}", kList), "x y");
  EXPECT_EQ(run("{.items[0].o['k.d']}{.items[1].o[\"k.d\"]}", kList), "vw");
  EXPECT_EQ(run("{.items[0].o.*}", kList), R"(v {"z":1})");
  EXPECT_EQ(run("{.items[0].o.m}", kList), R"({"z":1})");
  EXPECT_EQ(run("{.items[0].missing.deeper}-", kList), "-");
  EXPECT_EQ(run("{.items.id}", kList), "");  // a member of an array is nothing
  EXPECT_EQ(run(R"({range .items[*]}{.id}{"\t"}{@.n}{"\n"}{end})", kList), "a\t1\nb\t2\n");
  EXPECT_EQ(run(R"({range .items[*]}{.id}:{range .tags[*]}{@}{end};{end})", kList), "a:xy;b:;");
  EXPECT_EQ(run(R"({range .items[*]}{$.kind}{end})", kList), "ListList");
  EXPECT_EQ(run(R"({"a\"b\\c"})", kList), "a\"b\\c");
  EXPECT_EQ(run("plain text", kList), "plain text");
  EXPECT_EQ(run("{ .kind }", kList), "List");
  EXPECT_EQ(run("{.}", R"("s")"), "s");
}

TEST(JsonPath, RefusesWhatItDoesNotSupportAndSaysWhere) {
  const std::pair<const char*, const char*> bad[] = {
      {"{", "never closed"},
      {"{.kind", "never closed"},
      {"}", "'}' without '{'"},
      {"a}b", "'}' without '{'"},
      {"{}", "empty action"},
      {"{  }", "empty action"},
      {"{..id}", "recursive descent"},
      {"{.items[?(@.id==\"a\")]}", "filters"},
      {"{.items[0:2]}", "slices"},
      {"{.items[:2]}", "slices"},
      {"{.items[0}", "never closed by ']'"},
      {"{.items[}", "after '['"},
      {"{.items['id}", "quoted name"},
      {"{.items[-]}", "without a number"},
      {"{.items[9999999999]}", "too large"},
      {"{.a b}", "unexpected"},
      {"{.a!}", "unexpected '!'"},
      {"{kind}", "a path starts with"},
      {"{len(.items)}", "a path starts with"},
      {"{\"open}", "never closed by '\"'"},
      {"{\"\\q\"}", "unknown escape"},
      {"{end}", "{end} without a {range}"},
      {"{range .items[*]}{.id}", "never closed by {end}"},
      {"{range .items[*]}{end}{end}", "{end} without a {range}"},
      {"{\"x\" y}", "unexpected 'y'"},
      {"", "empty"},
  };
  for (const auto& [tmpl, why] : bad) {
    auto r = JsonPath::compile(tmpl);
    ASSERT_FALSE(r.is_ok()) << tmpl;
    EXPECT_NE(r.status().message().find(why), std::string::npos)
        << tmpl << " -> " << r.status().message();
    EXPECT_EQ(r.status().message().rfind("jsonpath: ", 0), 0u) << r.status().message();
  }
  auto where = JsonPath::compile("abc{.x}{..y}");
  EXPECT_NE(where.status().message().find("at character 10"), std::string::npos)
      << where.status().message();
}

TEST(JsonPath, LimitsSizeAndNesting) {
  std::string nested;
  for (int i = 0; i < 8; ++i) {
    nested += "{range @}";
  }
  std::string closed = nested;
  for (int i = 0; i < 8; ++i) {
    closed += "{end}";
  }
  EXPECT_TRUE(JsonPath::compile(closed).is_ok());
  auto deep = JsonPath::compile("{range @}" + closed + "{end}");
  ASSERT_FALSE(deep.is_ok());
  EXPECT_NE(deep.status().message().find("deeper than 8"), std::string::npos);
  // A hostile template of a million open ranges fails at the ninth, without recursion beyond.
  std::string million;
  for (int i = 0; i < 1'000'000; ++i) {
    million += "{range @}";
  }
  EXPECT_FALSE(JsonPath::compile(million).is_ok());
  EXPECT_FALSE(JsonPath::compile(std::string(70'000, 'x')).is_ok());
  EXPECT_TRUE(JsonPath::compile(std::string(60'000, 'x')).is_ok());
}

TEST(JsonPath, StreamsOnlyWhatWalksTheItems) {
  for (const char* yes : {"{range .items[*]}{.id}{end}", "head {.items[*].id} tail",
                          "{$.items[*].tags[0]}", "{range .items[*]}{range .tags[*]}{@}{end}{end}"}) {
    EXPECT_TRUE(JsonPath::compile(yes)->streams_items()) << yes;
  }
  for (const char* no : {"{.kind}{range .items[*]}{.id}{end}", "{range .items[*]}{$.kind}{end}",
                         "{.items[0].id}", "{.items[*].id}{.items[*].n}", "{range .items[*].tags}{@}{end}",
                         "text only"}) {
    EXPECT_FALSE(JsonPath::compile(no)->streams_items()) << no;
  }
}

// The rows of kList as a writer gets them.
std::vector<Column> columns() {
  return {{"id", ""}, {"n", ""}, {"r", ""}, {"none", ""}, {"tags", ""}, {"o", ""}};
}
std::vector<std::vector<Value>> rows() {
  return {{Value::string("a"), Value::integer(1), Value::real(2.5), Value::null(),
           Value::json(R"(["x","y"])"), Value::json(R"({"k.d":"v","m":{"z":1}})")},
          {Value::string("b"), Value::integer(2), Value::real(0.5), Value::null(), Value::json("[]"),
           Value::json(R"({"k.d":"w"})")}};
}

std::string write(OutputFormat format, RowWriterOptions options) {
  std::ostringstream out;
  auto w = RowWriter::make(format, columns(), out, std::move(options));
  for (const auto& r : rows()) {
    w->add(r);
  }
  w->finish();
  return out.str();
}

TEST(JsonPath, AStreamedListPrintsWhatTheWholeListDoes) {
  const std::string whole =
      R"({"kind":"List","items":[{"id":"a","n":1,"r":2.5,"none":null,"tags":["x","y"],"o":{"k.d":"v","m":{"z":1}}},)"
      R"({"id":"b","n":2,"r":0.5,"none":null,"tags":[],"o":{"k.d":"w"}}]})";
  for (const char* tmpl :
       {"{range .items[*]}{.id}={.n},{.r},{.none},{.tags},{.o['k.d']}{\"\\n\"}{end}",
        "<{.items[*].tags[*]}>", "<{.items[*].none}>", "{.kind}: {.items[*].id}",
        "{range .items[*]}{range .tags[*]}{@}{end}{end}", "{.items[*].o.m.z}"}) {
    RowWriterOptions options;
    options.jsonpath = std::make_shared<const JsonPath>(*JsonPath::compile(tmpl));
    EXPECT_EQ(write(OutputFormat::kJsonPath, options), run(tmpl, whole)) << tmpl;
  }
}

TEST(RowNames, KindSlashIdALine) {
  RowWriterOptions options;
  options.names = {"thing", "", {"id", "none", "n"}};
  EXPECT_EQ(write(OutputFormat::kName, options), "thing/a/1\nthing/b/2\n");  // null left out
  options.names = {"", "id", {"n"}};  // the kind from a column
  EXPECT_EQ(write(OutputFormat::kName, options), "a/1\nb/2\n");
}

TEST(OutputFormats, NameAndJsonPathAreParsed) {
  EXPECT_EQ(*parse_output_format("name"), OutputFormat::kName);
  EXPECT_EQ(*parse_output_format("jsonpath={.items[*].id}"), OutputFormat::kJsonPath);
  EXPECT_EQ(jsonpath_template("jsonpath={.a}"), "{.a}");
  for (const char* bad : {"jsonpath", "jsonpath=", "jsonpath={", "JSONPATH={.a}", "names",
                          "jsonpath-file=x", "go-template={{.}}"}) {
    EXPECT_FALSE(parse_output_format(bad).is_ok()) << bad;
  }
  EXPECT_EQ(table_shape(OutputFormat::kName), OutputFormat::kJson);
  EXPECT_EQ(table_shape(OutputFormat::kJsonPath), OutputFormat::kJson);
}

}  // namespace
}  // namespace ktrail::query
