// Node timelines and `ktrail query events` end to end, with the real binary over real SQLite
// files: a node that stops reporting (tests/data/scenarios/node-not-ready.audit.jsonl) whose
// Events reach ktrail only inside audit events, as kube-apiserver audits the Events that the
// node controller, the scheduler and the kubelets create. Those Events come from the scenario's
// own Event dump (node-not-ready.events.jsonl), wrapped the way the apiserver logs them: the
// controllers' at RequestResponse (the response holds the stored Event with its uid), the
// kubelets' at Request (a create's request has no uid yet; a repeat is a patch of count,
// lastTimestamp and message only).
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/json.h"
#include "tests/support/test_env.h"

namespace ktrail {
namespace {

std::string scenario(const std::string& name) {
  return std::string(KTRAIL_SOURCE_DIR) + "/tests/data/scenarios/" + name;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

using rapidjson::Value;

struct RunResult {
  int code = -1;
  std::string out;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

RunResult run(const std::vector<std::string>& args) {
  std::string cmd = quote(KTRAIL_BINARY);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string compact(const Value& v) { return json::to_compact(v); }

// The user kube-apiserver records for the component that created an Event.
std::string user_of(const Value& event) {
  const Value& source = event["source"];
  const std::string component = source["component"].GetString();
  if (component == "kubelet" || component == "kube-proxy") {
    return std::string("system:node:") + source["host"].GetString();
  }
  if (component == "default-scheduler") return "system:kube-scheduler";
  return "system:serviceaccount:kube-system:" + component;
}

// One audit event line for an Event write; `request` and `response` are JSON text or empty.
std::string audit_line(int seq, const std::string& verb, const std::string& user,
                       const std::string& ns, const std::string& name, const std::string& level,
                       const std::string& at, const std::string& request,
                       const std::string& response, int code) {
  char id[64];
  std::snprintf(id, sizeof id, "e0000000-0000-4000-8000-%012d", seq);
  std::string uri = "/api/v1/namespaces/" + ns + "/events";
  if (verb != "create") uri += "/" + name;
  std::string line = R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":")" + level +
                     R"(","auditID":")" + id + R"(","stage":"ResponseComplete","requestURI":")" +
                     uri + R"(","verb":")" + verb + R"(","user":{"username":")" + user +
                     R"(","groups":["system:authenticated"]},"sourceIPs":["10.0.0.10"],)" +
                     R"("userAgent":"client-go/v1.37.2","objectRef":{"resource":"events",)" +
                     R"("namespace":")" + ns + R"(","name":")" + name +
                     R"(","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":)" +
                     std::to_string(code) + R"(},"requestReceivedTimestamp":")" + at +
                     R"(","stageTimestamp":")" + at + R"(")";
  if (!request.empty()) line += R"(,"requestObject":)" + request;
  if (!response.empty()) line += R"(,"responseObject":)" + response;
  return line + "}";
}

// The scenario's Events as audit events of their creation (and of their repeats).
std::vector<std::string> events_as_audit(std::size_t* distinct) {
  std::vector<std::string> lines;
  std::set<std::string> seen;
  int seq = 1;
  for (const std::string& text :
       read_lines(scenario("node-not-ready.events.jsonl"))) {
    rapidjson::Document ev;
    EXPECT_TRUE(json::parse(text, &ev).is_ok());
    const std::string ns = ev["metadata"]["namespace"].GetString();
    const std::string name = ev["metadata"]["name"].GetString();
    std::string at = ev["lastTimestamp"].GetString();
    at.insert(at.size() - 1, ".100000");  // a moment after the Event's time
    const std::string user = user_of(ev);
    const bool kubelet = user.rfind("system:node:", 0) == 0;
    if (!seen.insert(ns + "/" + name).second) {
      // A repeat: the recorder patches count, lastTimestamp and message.
      std::string patch = R"({"count":)" + std::to_string(ev["count"].GetInt()) +
                          R"(,"lastTimestamp":")" + ev["lastTimestamp"].GetString() +
                          R"(","message":")" + ev["message"].GetString() + R"("})";
      lines.push_back(audit_line(seq++, "patch", user, ns, name, "Request", at, patch, "", 200));
      continue;
    }
    const std::string stored = compact(ev);
    ev["metadata"].RemoveMember("uid");  // what the client sent: no uid yet
    ev["metadata"].RemoveMember("creationTimestamp");
    const std::string sent = compact(ev);
    lines.push_back(kubelet ? audit_line(seq++, "create", user, ns, name, "Request", at, sent, "",
                                         201)
                            : audit_line(seq++, "create", user, ns, name, "RequestResponse", at,
                                         sent, stored, 201));
  }
  *distinct = seen.size();
  return lines;
}

class TimelineCli : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("ktrail.db");
    std::vector<std::string> lines =
        read_lines(scenario("node-not-ready.audit.jsonl"));
    // The node controller's first taint patch as the apiserver also sends it: RequestReceived.
    for (const std::string& l : std::vector<std::string>(lines)) {
      if (l.find("\"verb\":\"patch\"") == std::string::npos ||
          l.find("node.kubernetes.io/unreachable") == std::string::npos) {
        continue;
      }
      rapidjson::Document received;
      ASSERT_TRUE(json::parse(l, &received).is_ok());
      received["stage"].SetString("RequestReceived");
      received.RemoveMember("responseStatus");
      rapidjson::Value at(received["requestReceivedTimestamp"], received.GetAllocator());
      received["stageTimestamp"] = at;
      lines.push_back(compact(received));
      break;
    }
    audit_lines_ = lines.size();
    for (std::string& l : events_as_audit(&distinct_events_)) {
      lines.push_back(std::move(l));
    }
    const std::string path = dir_.file("audit.jsonl");
    std::ofstream out(path);
    for (const auto& l : lines) out << l << "\n";
    out.close();
    total_lines_ = lines.size();
    RunResult r = run({"ingest", "--db", db_, "--kind", "audit", path});
    ASSERT_EQ(r.code, 0) << r.out;
    // Carried Events are not received items: the summary counts the audit events only.
    EXPECT_NE(r.out.find("read " + std::to_string(total_lines_) + ", stored " +
                         std::to_string(total_lines_)),
              std::string::npos)
        << r.out;
  }

  rapidjson::Document json(std::vector<std::string> args) {
    args.insert(args.end(), {"--db", db_, "-o", "json"});
    RunResult r = run(args);
    EXPECT_EQ(r.code, 0) << r.out;
    rapidjson::Document doc;
    EXPECT_TRUE(json::parse(r.out, &doc).is_ok()) << r.out;
    EXPECT_TRUE(doc.IsArray());
    return doc;
  }

  static std::string s(const Value& v, const char* key) {
    return v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
  }

  testing::TempDir dir_;
  std::string db_;
  std::size_t audit_lines_ = 0;
  std::size_t total_lines_ = 0;
  std::size_t distinct_events_ = 0;
};

TEST_F(TimelineCli, EventsCarriedInAuditAreStoredOncePerEvent) {
  auto all = json({"query", "events", "--limit", "0"});
  EXPECT_EQ(all.Size(), distinct_events_);
  std::map<std::string, const Value*> by_name;
  for (const auto& e : all.GetArray()) by_name[s(e, "namespace") + "/" + s(e, "name")] = &e;
  // The kubelet's repeats came as body-less patches: applied to the Event as created.
  const Value& starting = *by_name.at("default/worker-1.1800000000030557");
  EXPECT_EQ(starting["count"].GetInt(), 3);
  EXPECT_EQ(s(starting, "lastTimestamp"), "2026-03-01T02:56:00.000000Z");
  EXPECT_EQ(s(starting, "firstTimestamp"), "2026-03-01T02:46:00.000000Z");
  // A controller's Event has the uid of the stored object; a kubelet's create had none.
  EXPECT_EQ(s(*by_name.at("default/worker-3.1800000000007bbc"), "uid"),
            "00000000-0000-4000-8000-000000000005");
  EXPECT_EQ(s(*by_name.at("shop/checkout-7d9f8b6c5-b8wvn.1800000000017334"), "uid"),
            "shop/checkout-7d9f8b6c5-b8wvn.1800000000017334");

  // The same Events arriving on their own (as on /events) merge into the same rows.
  RunResult r = run({"ingest", "--db", db_, "--kind", "events",
                     scenario("node-not-ready.events.jsonl")});
  ASSERT_EQ(r.code, 0) << r.out;
  auto merged = json({"query", "events", "--limit", "0"});
  EXPECT_EQ(merged.Size(), distinct_events_);
  bool found = false;
  for (const auto& e : merged.GetArray()) {
    if (s(e, "name") == "checkout-7d9f8b6c5-b8wvn.1800000000017334") {
      found = true;
      EXPECT_EQ(s(e, "uid"), "00000000-0000-4000-8000-000000000013");  // now known
      EXPECT_EQ(s(e, "reason"), "Started");
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(TimelineCli, QueryEventsFilters) {
  auto node = json({"query", "events", "--object", "node/worker-3"});
  ASSERT_EQ(node.Size(), 2u);
  EXPECT_EQ(s(node[0], "reason"), "NodeNotReady");
  EXPECT_EQ(s(node[1], "reason"), "NodeReady");
  EXPECT_EQ(s(node[0], "object"), "Node/worker-3");
  EXPECT_EQ(json({"query", "events", "--object", "Pod/worker-3"}).Size(), 0u);

  auto warnings = json({"query", "events", "--type", "warning"});
  ASSERT_EQ(warnings.Size(), 4u);  // the node controller's NodeNotReady on each pod
  for (const auto& e : warnings.GetArray()) {
    EXPECT_EQ(s(e, "type"), "Warning");
    EXPECT_EQ(s(e, "reason"), "NodeNotReady");
  }
  auto shop = json({"query", "events", "-n", "payments", "--reason", "Scheduled"});
  ASSERT_EQ(shop.Size(), 2u);  // ledger-0, before and after the outage
  auto window = json({"query", "events", "--since", "2026-03-01T02:19:00Z", "--until",
                      "2026-03-01T02:19:02Z", "--reason", "TaintManagerEviction"});
  EXPECT_EQ(window.Size(), 4u);
  auto last = json({"query", "events", "--limit", "1"});
  ASSERT_EQ(last.Size(), 1u);
  EXPECT_EQ(s(last[0], "reason"), "Starting");

  // Table and csv, and several stores as one.
  RunResult table = run({"query", "events", "--db", db_, "--object", "node/worker-3"});
  EXPECT_EQ(table.code, 0);
  EXPECT_NE(table.out.find("LAST SEEN"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("Node/worker-3"), std::string::npos) << table.out;
  RunResult csv = run({"query", "events", "--db", db_, "-o", "csv", "--reason", "NodeReady"});
  EXPECT_EQ(csv.out.rfind("lastTimestamp,firstTimestamp,count,", 0), 0u) << csv.out;
  std::filesystem::create_directories(dir_.file("shards"));
  std::filesystem::copy_file(db_, dir_.file("shards/a.db"));
  RunResult shards =
      run({"query", "events", "--db", dir_.file("shards"), "-o", "csv", "--reason", "NodeReady"});
  EXPECT_EQ(shards.out, csv.out);
  EXPECT_EQ(run({"query", "events", "--db", db_, "--object", "node/"}).code, 2);
  EXPECT_EQ(run({"query", "events", "--db", db_, "--since", "yesterday"}).code, 2);
}

TEST_F(TimelineCli, NodeTimelineShowsItsEventsRequestsAndPods) {
  auto rows = json({"query", "timeline", "--node", "worker-3", "--limit", "0"});
  std::vector<std::string> lines;  // "source what object change" for the assertions' messages
  std::map<std::string, int> requests;
  std::set<std::string> reasons;
  std::string listing;
  for (const auto& r : rows.GetArray()) {
    const std::string line = s(r, "time") + " " + s(r, "source") + " " + s(r, "what") + " " +
                             s(r, "object") + " " + s(r, "user") + " [" + s(r, "change") + "]";
    listing += line + "\n";
    lines.push_back(line);
    if (s(r, "source") == "event") reasons.insert(s(r, "what"));
    if (s(r, "source") == "audit") ++requests[s(r, "ref")];
  }
  // The node's Events, though they only came inside audit events.
  EXPECT_TRUE(reasons.count("NodeNotReady") && reasons.count("NodeReady")) << listing;
  // One row per request: the taint patch was also audited at RequestReceived.
  for (const auto& [ref, n] : requests) EXPECT_EQ(n, 1) << ref << "\n" << listing;
  auto has = [&](const std::string& part) {
    for (const auto& l : lines)
      if (l.find(part) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("update nodes/status/worker-3 system:serviceaccount:kube-system:node-controller "
                  "[Ready=Unknown]"))
      << listing;
  // The node lifecycle controller's taints, in the order it writes them.
  for (const char* change : {"[taints node.kubernetes.io/unreachable:NoSchedule]",
                             "[taint node.kubernetes.io/unreachable:NoExecute added]",
                             "[taint node.kubernetes.io/unreachable:NoSchedule removed]",
                             "[taint node.kubernetes.io/unreachable:NoExecute removed]"}) {
    EXPECT_TRUE(has(std::string("patch nodes/worker-3 "
                                "system:serviceaccount:kube-system:node-controller ") +
                    change))
        << change << "\n" << listing;
  }
  // Its pods: bound to it, then deleted by the taint-eviction controller; ledger-0 came back
  // under the same name on another node, and that binding is not this node's.
  EXPECT_TRUE(has("create pods/binding/ledger-0 system:kube-scheduler [bound to worker-3]"))
      << listing;
  EXPECT_FALSE(has("[bound to worker-1]") || has("[bound to worker-2]")) << listing;
  for (const char* pod : {"checkout-7d9f8b6c5-x2x9z", "checkout-7d9f8b6c5-q4rlm",
                          "cart-5c8d9b7f64-m7kxp", "ledger-0"}) {
    EXPECT_TRUE(has(std::string("delete pods/") + pod +
                    " system:serviceaccount:kube-system:taint-eviction-controller [deleted]"))
        << pod << "\n" << listing;
  }
  // The kubelet's own heartbeats are left out, unless --all.
  EXPECT_FALSE(has("system:node:worker-3")) << listing;
  EXPECT_TRUE(has("source incident") || has(" incident node-not-ready")) << listing;
  auto all = json({"query", "timeline", "--node", "worker-3", "--limit", "0", "--all"});
  bool ready = false;
  for (const auto& r : all.GetArray()) {
    ready = ready || (s(r, "user") == "system:node:worker-3" && s(r, "change") == "Ready=True");
  }
  EXPECT_TRUE(ready);
  EXPECT_GT(all.Size(), rows.Size());

  auto stages = json({"query", "timeline", "--node", "worker-3", "--limit", "0", "--stages", "all"});
  EXPECT_EQ(stages.Size(), rows.Size() + 1);  // the taint patch's RequestReceived
}

TEST_F(TimelineCli, NodeTimelineFilters) {
  auto reason = json({"query", "timeline", "--node", "worker-3", "--reason", "NodeNotReady"});
  ASSERT_EQ(reason.Size(), 1u);
  EXPECT_EQ(s(reason[0], "source"), "event");
  EXPECT_EQ(s(reason[0], "object"), "Node/worker-3");
  EXPECT_EQ(s(reason[0], "type"), "Normal");
  EXPECT_EQ(json({"query", "timeline", "--node", "worker-3", "--type", "Warning"}).Size(), 0u);

  auto deletes = json({"query", "timeline", "--node", "worker-3", "--verb", "delete"});
  ASSERT_EQ(deletes.Size(), 4u);
  for (const auto& r : deletes.GetArray()) EXPECT_EQ(s(r, "change"), "deleted");

  auto quiet = json({"query", "timeline", "--node", "worker-3", "--exclude-user",
                     "system:serviceaccount:kube-system:node-controller", "--exclude-user",
                     "system:kube-scheduler"});
  for (const auto& r : quiet.GetArray()) {
    EXPECT_NE(s(r, "user"), "system:kube-scheduler");
    if (s(r, "source") == "audit") {
      EXPECT_NE(s(r, "user"), "system:serviceaccount:kube-system:node-controller");
    }
  }
  EXPECT_EQ(run({"query", "timeline", "--db", db_, "--node", "worker-3", "--stages", "some"}).code,
            2);
}

}  // namespace
}  // namespace ktrail
