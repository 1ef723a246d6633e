// Familiar shapes on the real binary: every -o of the query commands, tables that fit the
// terminal, large answers streamed whole, `ktrail version -o json`, and shell completion that
// a real bash runs.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <sstream>

#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

const std::string kData = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(line);
  }
  return out;
}

std::size_t columns_of(const std::string& line) {
  std::size_t n = 0;
  for (unsigned char c : line) {
    n += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

class Shapes : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("COLUMNS");
    db_ = dir_.file("k.db");
    auto r = run_ktrail({"ingest", "--db", db_, kData + "audit2rbac-demo-raw-v1beta1.jsonl",
                         kData + "sonobuoy-results-0.10-events.jsonl"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void TearDown() override { unsetenv("COLUMNS"); }
  TempDir dir_;
  std::string db_;
};

TEST_F(Shapes, EveryFormatCarriesTheSameRows) {
  const std::vector<std::string> q = {"query", "audit", "--db", db_, "--limit", "0", "--stages",
                                      "all"};
  auto with = [&](const std::string& o) {
    auto args = q;
    args.insert(args.end(), {"-o", o});
    auto r = run_ktrail(args);
    EXPECT_EQ(r.exit_code, 0) << o << ": " << r.err;
    return r.out;
  };
  rapidjson::Document json;
  ASSERT_FALSE(json.Parse(with("json").c_str()).HasParseError());
  const std::size_t n = json.Size();
  ASSERT_EQ(n, 757u);
  const auto jsonl = lines_of(with("jsonl"));
  ASSERT_EQ(jsonl.size(), n);
  rapidjson::Document line;
  ASSERT_FALSE(line.Parse(jsonl.back().c_str()).HasParseError());
  EXPECT_STREQ(line["auditID"].GetString(), json[n - 1]["auditID"].GetString());
  EXPECT_EQ(line["code"].IsNull(), json[n - 1]["code"].IsNull());
  const YAML::Node yaml = YAML::Load(with("yaml"));
  ASSERT_TRUE(yaml.IsSequence());
  ASSERT_EQ(yaml.size(), n);
  EXPECT_EQ(yaml[n - 1]["auditID"].as<std::string>(), json[n - 1]["auditID"].GetString());
  EXPECT_EQ(yaml[0]["groups"].size(), json[0]["groups"].Size());
  EXPECT_EQ(lines_of(with("csv")).size(), n + 1);
  EXPECT_EQ(lines_of(with("table")).size(), n + 1);
  EXPECT_EQ(lines_of(with("wide")).size(), n + 1);
}

TEST_F(Shapes, TablesFitTheTerminalAndWideDoesNot) {
  setenv("COLUMNS", "70", 1);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"query", "audit", "--db", db_, "--limit", "20"},
           {"incidents", "list", "--db", db_},
           {"query", "timeline", "--db", db_, "--limit", "20"},
           {"sql", "--db", db_, "SELECT reason, message FROM kube_events LIMIT 20"}}) {
    auto r = run_ktrail(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    bool cut = false;
    for (const auto& l : lines_of(r.out)) {
      EXPECT_LE(columns_of(l), 70u) << args[0] << " " << args[1] << ": " << l;
      cut = cut || l.find("\xE2\x80\xA6") != std::string::npos;
    }
    EXPECT_TRUE(cut) << "nothing needed cutting at 70 columns? " << r.out;
  }
  auto wide = run_ktrail({"query", "timeline", "--db", db_, "--limit", "20", "-o", "wide"});
  EXPECT_EQ(wide.out.find("\xE2\x80\xA6"), std::string::npos);
  bool longer = false;
  for (const auto& l : lines_of(wide.out)) {
    longer = longer || columns_of(l) > 70;
  }
  EXPECT_TRUE(longer);
  // Not a terminal and no $COLUMNS: nothing is cut.
  unsetenv("COLUMNS");
  auto piped = run_ktrail({"query", "timeline", "--db", db_, "--limit", "20"});
  EXPECT_EQ(piped.out.find("\xE2\x80\xA6"), std::string::npos);
}

TEST_F(Shapes, VersionAsJson) {
  auto v = run_ktrail({"version", "-o", "json"});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  rapidjson::Document d;
  ASSERT_FALSE(d.Parse(v.out.c_str()).HasParseError()) << v.out;
  for (const char* key : {"version", "commit", "buildType", "sqlite", "librdkafka"}) {
    ASSERT_TRUE(d.HasMember(key) && d[key].IsString()) << key;
    EXPECT_GT(d[key].GetStringLength(), 0u) << key;
  }
  EXPECT_STRNE(d["commit"].GetString(), "unknown");
  auto flag = run_ktrail({"--version"});
  EXPECT_EQ(flag.exit_code, 0);
  EXPECT_EQ(flag.out.rfind(std::string("ktrail ") + d["version"].GetString(), 0), 0u) << flag.out;
  EXPECT_EQ(run_ktrail({"version", "-o", "xml"}).exit_code, 2);
}

TEST_F(Shapes, CompletionInARealBash) {
  auto script = run_ktrail({"completion", "bash"});
  ASSERT_EQ(script.exit_code, 0);
  write_file(dir_.file("ktrail.bash"), script.out);
  // COMP_WORDS as bash fills them; the function's answer printed one per line.
  auto complete = [&](const std::string& words, int cword) {
    const std::string cmd = "cd '" + dir_.path() + "' && bash -c 'source ktrail.bash; COMP_WORDS=(" +
                            std::string(KTRAIL_BINARY) + " " + words + "); COMP_CWORD=" +
                            std::to_string(cword) + "; _ktrail; printf \"%s\\n\" \"${COMPREPLY[@]}\"'";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
      out.append(buf, n);
    }
    pclose(p);
    return out;
  };
  EXPECT_NE(complete("que", 1).find("query\n"), std::string::npos);
  EXPECT_EQ(complete("query au", 2), "audit\n");
  EXPECT_NE(complete("query audit --us", 3).find("--user\n"), std::string::npos);
  EXPECT_NE(complete("query audit -o ya", 4).find("yaml\n"), std::string::npos);
  EXPECT_EQ(complete("query audit -o na", 4), "name\n");
  EXPECT_NE(complete("query audit -o json", 4).find("jsonpath=\n"), std::string::npos);
  EXPECT_EQ(complete("sql -o na", 3), "\n");  // nothing: sql rows have no names
  EXPECT_NE(complete("incidents list --kind sched", 4).find("scheduling-failure\n"),
            std::string::npos);
  // Incident IDs from the store named by --db.
  EXPECT_NE(complete("incidents show --db " + db_ + " sched", 5)
                .find("scheduling-failure-48aa6496a260e9d7\n"),
            std::string::npos);
  EXPECT_EQ(run_ktrail({"completion", "tcsh"}).exit_code, 2);
}

// The output of a shell command run in the test's directory.
std::string shell_output(const std::string& dir, const std::string& command) {
  const std::string cmd = "cd '" + dir + "' && " + command;
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
    out.append(buf, n);
  }
  pclose(p);
  return out;
}

TEST_F(Shapes, CompletionInARealZsh) {
  ASSERT_EQ(std::system("command -v zsh >/dev/null"), 0)
      << "zsh is missing: scripts/install-deps.sh installs it";
  auto script = run_ktrail({"completion", "zsh"});
  ASSERT_EQ(script.exit_code, 0);
  write_file(dir_.file("ktrail.zsh"), script.out);
  // The function as a completion widget runs it: `words` and CURRENT set by zsh, compadd
  // receiving the candidates (here a function that prints them).
  auto complete = [&](const std::string& words, int current) {
    return shell_output(dir_.path(),
                        "zsh -f -c 'autoload -Uz compinit; compinit -u -D; source ./ktrail.zsh; "
                        "compadd() { [[ $1 == -a ]] && print -rl -- \"${(@P)2}\"; }; words=(" +
                            std::string(KTRAIL_BINARY) + " " + words +
                            "); CURRENT=" + std::to_string(current) + "; _ktrail'");
  };
  EXPECT_NE(complete("que", 2).find("query\n"), std::string::npos);
  EXPECT_EQ(complete("query au", 3), "audit\n");
  EXPECT_NE(complete("query audit --us", 4).find("--user\n"), std::string::npos);
  EXPECT_NE(complete("query audit -o \"\"", 5).find("jsonl\n"), std::string::npos);
  EXPECT_NE(complete("incidents show --db " + db_ + " sched", 6)
                .find("scheduling-failure-48aa6496a260e9d7\n"),
            std::string::npos);
}

TEST_F(Shapes, CompletionInARealFish) {
  ASSERT_EQ(std::system("command -v fish >/dev/null"), 0)
      << "fish is missing: scripts/install-deps.sh installs it";
  auto script = run_ktrail({"completion", "fish"});
  ASSERT_EQ(script.exit_code, 0);
  write_file(dir_.file("ktrail.fish"), script.out);
  std::string bin = KTRAIL_BINARY;
  bin.resize(bin.rfind('/'));
  // `complete -C LINE` asks fish for what it would offer on that command line.
  auto complete = [&](const std::string& line) {
    return shell_output(dir_.path(), "PATH='" + bin + "':$PATH fish --no-config -c 'source ./ktrail.fish; complete -C \"" + line + "\"'");
  };
  EXPECT_NE(complete("ktrail que").find("query"), std::string::npos);
  EXPECT_EQ(complete("ktrail query au"), "audit\n");
  EXPECT_NE(complete("ktrail query audit --us").find("--user"), std::string::npos);
  EXPECT_NE(complete("ktrail query audit -o ").find("jsonl\n"), std::string::npos);
  EXPECT_NE(complete("ktrail incidents show --db " + db_ + " sched")
                .find("scheduling-failure-48aa6496a260e9d7\n"),
            std::string::npos);
}

}  // namespace
}  // namespace ktrail::testing
