// `ktrail policy check` and `ktrail policy lint`, run as the real binary on real logs.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/json.h"

namespace {

namespace fs = std::filesystem;

struct CliRun {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PolicyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ktrail-policy-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `ktrail <args>` with stdin from `stdin_file` (if any).
  CliRun run(const std::string& args, const std::string& stdin_file = "/dev/null") {
    const fs::path out = dir_ / "out", err = dir_ / "err";
    const std::string cmd = std::string(KTRAIL_BINARY) + " " + args + " <" + stdin_file + " >" +
                            out.string() + " 2>" + err.string();
    CliRun r;
    const int rc = std::system(cmd.c_str());
    r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

  static std::vector<rapidjson::Document> lines(const std::string& text) {
    std::vector<rapidjson::Document> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      rapidjson::Document d;
      EXPECT_TRUE(ktrail::json::parse(line, &d).is_ok()) << line;
      out.push_back(std::move(d));
    }
    return out;
  }

  static std::string source(const std::string& rel) {
    return std::string(KTRAIL_SOURCE_DIR) + "/" + rel;
  }

  fs::path dir_;
};

TEST_F(PolicyCli, CheckPrintsOneDecisionPerEventOfARealLog) {
  const std::string log = source("tests/data/falco-k8s-audit-trace-files.jsonl");
  CliRun r =
      run("policy check --policy " + source("examples/policies/gce-audit-policy.yaml") + " " + log);
  ASSERT_EQ(r.status, 0) << r.err;
  auto out = lines(r.out);
  std::size_t events = 0;
  {
    std::ifstream in(log);
    std::string l;
    while (std::getline(in, l)) {
      events += l.empty() ? 0 : 1;
    }
  }
  ASSERT_EQ(out.size(), events);
  std::size_t secrets_metadata = 0;
  for (const auto& d : out) {
    ASSERT_TRUE(d.IsObject());
    ASSERT_TRUE(d["auditID"].IsString());
    ASSERT_TRUE(d["stage"].IsString());
    ASSERT_TRUE(d["keep"].IsBool());
    const std::string level = d["level"].GetString();
    EXPECT_TRUE(level == "None" || level == "Metadata" || level == "Request" ||
                level == "RequestResponse");
    ASSERT_TRUE(d["rule"].IsUint());
    secrets_metadata += d["rule"].GetUint() == 14 && level == "Metadata" ? 1 : 0;
  }
  EXPECT_GE(secrets_metadata, 4u);  // the log's secrets and configmaps events hit rule 14
  // The same log through stdin gives the same output.
  CliRun piped =
      run("policy check --policy " + source("examples/policies/gce-audit-policy.yaml") + " -", log);
  EXPECT_EQ(piped.out, r.out);
}

TEST_F(PolicyCli, CheckReadsEventListsAndReportsNoMatchAndOmittedStages) {
  const auto policy = write("p.yaml",
                            "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
                            "omitStages: [Panic]\nomitManagedFields: true\n"
                            "rules:\n"
                            "- level: Request\n"
                            "  resources: [{resources: [pods]}]\n"
                            "  omitStages: [RequestReceived]\n"
                            "  omitManagedFields: false\n");
  const std::string ts =
      R"("requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z","stageTimestamp":"2024-01-01T00:00:00.000000Z")";
  const auto list = write(
      "list.json",
      R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[)"
      R"({"auditID":"a1","stage":"RequestReceived","level":"Metadata","verb":"get","requestURI":"/api/v1/namespaces/d/pods/p","user":{"username":"u"},"objectRef":{"resource":"pods","namespace":"d","name":"p","apiVersion":"v1"},)" +
          ts +
          R"(},{"auditID":"a2","stage":"ResponseComplete","level":"Metadata","verb":"get","requestURI":"/api/v1/namespaces/d/pods/p","user":{"username":"u"},"objectRef":{"resource":"pods","namespace":"d","name":"p","apiVersion":"v1"},)" +
          ts +
          R"(},{"auditID":"a3","stage":"ResponseComplete","level":"Metadata","verb":"get","requestURI":"/healthz","user":{"username":"u"},)" +
          ts + "}]}");
  CliRun r = run("policy check --policy " + policy.string() + " " + list.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(
      r.out,
      "{\"auditID\":\"a1\",\"stage\":\"RequestReceived\",\"level\":\"Request\",\"keep\":false,"
      "\"rule\":1,\"omitStages\":[\"RequestReceived\",\"Panic\"],\"omitManagedFields\":false}\n"
      "{\"auditID\":\"a2\",\"stage\":\"ResponseComplete\",\"level\":\"Request\",\"keep\":true,"
      "\"rule\":1,\"omitStages\":[\"RequestReceived\",\"Panic\"],\"omitManagedFields\":false}\n"
      "{\"auditID\":\"a3\",\"stage\":\"ResponseComplete\",\"level\":\"None\",\"keep\":false,"
      "\"rule\":null,\"omitStages\":[\"Panic\"],\"omitManagedFields\":true}\n");
}

TEST_F(PolicyCli, CheckReadsIndentedEventListsAndArrays) {
  const std::string event =
      R"({"auditID":"%s","stage":"ResponseComplete","level":"Metadata","verb":"get",
          "requestURI":"/version","user":{"username":"u"},
          "requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z",
          "stageTimestamp":"2024-01-01T00:00:00.000000Z"})";
  auto with_id = [&](const std::string& id) {
    std::string e = event;
    e.replace(e.find("%s"), 2, id);
    return e;
  };
  const auto list =
      write("list.json", "{\n  \"kind\": \"EventList\",\n  \"items\": [\n    " + with_id("e1") +
                             ",\n    " + with_id("e2") + "\n  ]\n}\n");
  const auto array = write("array.json", "[\n" + with_id("a1") + "\n]\n");
  const std::string policy = source("examples/policies/kubernetes-io-example.yaml");
  CliRun l = run("policy check --policy " + policy + " " + list.string());
  ASSERT_EQ(l.status, 0) << l.err;
  auto out = lines(l.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_STREQ(out[0]["auditID"].GetString(), "e1");
  EXPECT_STREQ(out[1]["auditID"].GetString(), "e2");
  EXPECT_EQ(out[1]["rule"].GetUint(), 9u);  // no user group: the catch-all
  CliRun a = run("policy check --policy " + policy, array.string());
  ASSERT_EQ(a.status, 0) << a.err;
  ASSERT_EQ(lines(a.out).size(), 1u);
}

TEST_F(PolicyCli, CheckReportsBadLinesAndKeepsGoing) {
  const auto input = write(
      "mixed.jsonl",
      "not json\n"
      R"({"auditID":"ok","stage":"ResponseComplete","level":"Metadata","verb":"get","requestURI":"/version","user":{"username":"u"},"requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z","stageTimestamp":"2024-01-01T00:00:00.000000Z"})"
      "\n{\"auditID\":\"x\"}\n");
  CliRun r = run("policy check --policy " + source("examples/policies/gce-audit-policy.yaml") +
                 " " + input.string());
  EXPECT_EQ(r.status, 1);
  auto out = lines(r.out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_STREQ(out[0]["auditID"].GetString(), "ok");
  EXPECT_EQ(out[0]["rule"].GetUint(), 9u);  // /version: rule 9, level None
  EXPECT_FALSE(out[0]["keep"].GetBool());
  EXPECT_NE(r.err.find("mixed.jsonl:1:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mixed.jsonl:3:"), std::string::npos) << r.err;
}

TEST_F(PolicyCli, CheckRefusesBadPoliciesAndUsage) {
  const auto bad = write("bad.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [\n");
  CliRun r = run("policy check --policy " + bad.string() + " /dev/null");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("bad.yaml"), std::string::npos) << r.err;
  EXPECT_EQ(run("policy check").status, 2);
  EXPECT_EQ(run("policy check --policy x --bogus").status, 2);
  CliRun missing = run("policy check --policy " +
                       source("examples/policies/gce-audit-policy.yaml") + " /nonexistent.jsonl");
  EXPECT_EQ(missing.status, 1);
}

TEST_F(PolicyCli, LintPrintsErrorsAndWarningsWithLines) {
  CliRun ok = run("policy lint --policy " + source("examples/policies/gce-audit-policy.yaml"));
  EXPECT_EQ(ok.status, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("17 rules, 0 errors, 0 warnings"), std::string::npos) << ok.out;

  const auto warn = write("warn.yaml",
                          "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
                          "- level: None\n"
                          "  resources:\n"
                          "  - group: coordination.k8s.io\n"
                          "    resources: [leases]\n"
                          "    verbs: [watch]\n");
  CliRun w = run("policy lint --policy " + warn.string());
  EXPECT_EQ(w.status, 0);
  EXPECT_NE(w.out.find("warn.yaml:8:5: warning: rules[0].resources[0].verbs: unknown field"),
            std::string::npos)
      << w.out;

  const auto err = write("err.yaml",
                         "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
                         "- level: Sometimes\n"
                         "- level: None\n"
                         "  nonResourceURLs: [healthz]\n");
  CliRun e = run("policy lint " + err.string());
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.out.find("err.yaml:4:10: error: rules[0].level"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("rules[1].nonResourceURLs[0]"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("2 errors"), std::string::npos) << e.out;

  const auto advice =
      write("advice.yaml",
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
            "- level: None\n"
            "  verbs: [create]\n"
            "  resources: [{group: '*', resources: [configmaps], resourceNames: [x]}]\n"
            "- level: Metadata\n"
            "- level: Request\n");
  CliRun a = run("policy lint --policy " + advice.string());
  EXPECT_EQ(a.status, 0);
  EXPECT_NE(a.out.find("rules[0].resources[0].group: group \"*\" needs kube-apiserver v1.36"),
            std::string::npos)
      << a.out;
  EXPECT_NE(
      a.out.find("rules[0].resources[0].resourceNames: the rule's verbs carry no object name"),
      std::string::npos)
      << a.out;
  EXPECT_NE(a.out.find("advice.yaml:8:3: warning: rules[2]: unreachable: rules[1]"),
            std::string::npos)
      << a.out;
  EXPECT_NE(a.out.find("3 rules, 0 errors, 3 warnings"), std::string::npos) << a.out;

  CliRun j = run("policy lint -o json --policy " + err.string());
  EXPECT_EQ(j.status, 1);
  rapidjson::Document doc;
  ASSERT_TRUE(ktrail::json::parse(j.out, &doc).is_ok()) << j.out;
  ASSERT_TRUE(doc["errors"].IsArray());
  ASSERT_EQ(doc["errors"].Size(), 2u);
  EXPECT_EQ(doc["errors"][0]["line"].GetInt(), 4);
  EXPECT_STREQ(doc["errors"][0]["field"].GetString(), "rules[0].level");
  EXPECT_EQ(doc["warnings"].Size(), 0u);
  EXPECT_EQ(run("policy lint -o yaml --policy " + err.string()).status, 2);

  const auto deep = write("deep.yaml", "rules: " + std::string(100000, '['));
  CliRun d = run("policy lint --policy " + deep.string());
  EXPECT_EQ(d.status, 1);
  EXPECT_NE(d.out.find("deep.yaml"), std::string::npos);
}

}  // namespace
