// The audit policy engine's costs, measured against baselines in the same run:
//  * BM_GcePolicyEvaluate: the GCE policy (examples/policies/gce-audit-policy.yaml) over a
//    realistic mix of requests (control-plane chatter, node status updates, health probes,
//    user reads and writes, custom resources that fall to the catch-all), attributes taken
//    from decoded events as the pipeline does. Target: >= 2M events/s on one core.
//  * BM_IngestDecodeOnly vs BM_IngestDecodeAndApplyPolicy: decoding realistic
//    RequestResponse events (tests/data/falco-k8s-audit-trace-files.jsonl) with and without
//    the policy stage (GCE policy: some events kept whole, some lowered to Request or
//    Metadata). Target: the policy stage adds <= 20%.
#include <benchmark/benchmark.h>

#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "core/audit_json.h"
#include "processors/audit_processors.h"
#include "processors/policy/checker.h"
#include "processors/policy/loader.h"
#include "processors/policy_processor.h"
#include "tests/unit/policy/reference_checker.h"

namespace ktrail {
namespace {

std::shared_ptr<const policy::CompiledPolicy> gce_policy() {
  auto loaded = policy::load_policy_file(std::string(KTRAIL_SOURCE_DIR) +
                                         "/examples/policies/gce-audit-policy.yaml");
  if (!loaded.ok()) {
    std::abort();
  }
  auto c = policy::CompiledPolicy::compile(loaded.policy);
  if (!c) {
    std::abort();
  }
  return *c;
}

std::vector<std::string> read_lines(const std::string& name) {
  std::ifstream in(std::string(KTRAIL_SOURCE_DIR) + "/tests/data/" + name);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

// One request of the mix: user, groups, verb, URI, and (for resource requests) objectRef.
struct Shape {
  int weight;
  const char* user;
  std::vector<std::string> groups;
  const char* verb;
  const char* uri;
  const char* group;
  const char* resource;
  const char* subresource;
  const char* ns;
  const char* name;
};

AuditEvent make(const Shape& s) {
  AuditEvent e;
  e.user.username = s.user;
  e.user.groups = s.groups;
  e.verb = s.verb;
  e.request_uri = s.uri;
  if (s.resource != nullptr) {
    ObjectRef r;
    r.api_group = s.group;
    r.resource = s.resource;
    r.subresource = s.subresource;
    r.namespace_ = s.ns;
    r.name = s.name;
    e.object_ref = r;
  }
  return e;
}

// A control plane's traffic, roughly in the proportions audit logs of busy clusters show:
// leases and node status dominate, then controllers' reads, probes and user requests.
std::vector<AuditEvent> realistic_mix() {
  const std::vector<std::string> node = {"system:nodes", "system:authenticated"};
  const std::vector<std::string> sa = {
      "system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"};
  const std::vector<std::string> human = {"developers", "system:authenticated"};
  const Shape shapes[] = {
      {12,
       "system:kube-scheduler",
       {"system:authenticated"},
       "update",
       "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler",
       "coordination.k8s.io",
       "leases",
       "",
       "kube-system",
       "kube-scheduler"},
      {10, "system:node:node-1", node, "update",
       "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1",
       "coordination.k8s.io", "leases", "", "kube-node-lease", "node-1"},
      {8, "system:node:node-1", node, "patch", "/api/v1/nodes/node-1/status", "", "nodes", "status",
       "", "node-1"},
      {6, "system:node:node-2", node, "get", "/api/v1/nodes/node-2", "", "nodes", "", "", "node-2"},
      {6, "system:node:node-2", node, "patch", "/api/v1/namespaces/default/pods/web-1/status", "",
       "pods", "status", "default", "web-1"},
      {5,
       "system:kube-proxy",
       {"system:authenticated"},
       "watch",
       "/api/v1/endpoints?watch=true",
       "",
       "endpoints",
       "",
       "",
       ""},
      {5,
       "system:kube-controller-manager",
       {"system:authenticated"},
       "get",
       "/api/v1/namespaces/kube-system/endpoints/kube-controller-manager",
       "",
       "endpoints",
       "",
       "kube-system",
       "kube-controller-manager"},
      {6, "system:serviceaccount:kube-system:replicaset-controller", sa, "update",
       "/apis/apps/v1/namespaces/default/replicasets/web-7d9/status", "apps", "replicasets",
       "status", "default", "web-7d9"},
      {5, "system:serviceaccount:kube-system:deployment-controller", sa, "list",
       "/apis/apps/v1/deployments", "apps", "deployments", "", "", ""},
      {4,
       "system:kube-controller-manager",
       {"system:authenticated"},
       "list",
       "/apis/metrics.k8s.io/v1beta1/pods",
       "metrics.k8s.io",
       "pods",
       "",
       "",
       ""},
      {6,
       "system:anonymous",
       {"system:unauthenticated"},
       "get",
       "/healthz",
       nullptr,
       nullptr,
       nullptr,
       nullptr,
       nullptr},
      {3,
       "system:apiserver",
       {"system:masters"},
       "get",
       "/readyz",
       nullptr,
       nullptr,
       nullptr,
       nullptr,
       nullptr},
      {3, "system:serviceaccount:monitoring:prometheus", sa, "get", "/metrics", nullptr, nullptr,
       nullptr, nullptr, nullptr},
      {4, "system:serviceaccount:kube-system:event-controller", sa, "create",
       "/api/v1/namespaces/default/events", "", "events", "", "default", ""},
      {3, "alice@example.com", human, "get", "/api/v1/namespaces/team-a/secrets/db", "", "secrets",
       "", "team-a", "db"},
      {4, "alice@example.com", human, "list", "/api/v1/namespaces/team-a/pods", "", "pods", "",
       "team-a", ""},
      {3, "alice@example.com", human, "patch", "/apis/apps/v1/namespaces/team-a/deployments/web",
       "apps", "deployments", "", "team-a", "web"},
      {2, "bob@example.com", human, "create", "/api/v1/namespaces/team-b/pods/web-1/exec", "",
       "pods", "exec", "team-b", "web-1"},
      {3, "system:serviceaccount:argo:argo-server", sa, "list",
       "/apis/argoproj.io/v1alpha1/namespaces/argo/workflows", "argoproj.io", "workflows", "",
       "argo", ""},
      {2, "system:serviceaccount:kube-system:namespace-controller", sa, "deletecollection",
       "/api/v1/namespaces/gone/configmaps", "", "configmaps", "", "gone", ""},
  };
  std::vector<AuditEvent> out;
  for (const Shape& s : shapes) {
    for (int i = 0; i < s.weight; ++i) {
      out.push_back(make(s));
    }
  }
  // Interleave so that consecutive events differ, as in a real stream.
  std::vector<AuditEvent> mixed;
  for (std::size_t stride = 0; stride < 7; ++stride) {
    for (std::size_t i = stride; i < out.size(); i += 7) {
      mixed.push_back(out[i]);
    }
  }
  // The real events of the test logs, too.
  for (const char* file : {"falco-k8s-audit-trace-files.jsonl", "audit2rbac-demo-v1.jsonl"}) {
    DecodedAudit decoded;
    for (const auto& line : read_lines(file)) {
      decode_audit_line(line, &decoded);
    }
    for (auto& e : decoded.events) {
      mixed.push_back(std::move(e));
    }
  }
  return mixed;
}

void BM_GcePolicyEvaluate(benchmark::State& state) {
  auto policy = gce_policy();
  const std::vector<AuditEvent> events = realistic_mix();
  std::string path;
  std::size_t i = 0;
  std::size_t kept = 0;
  for (auto _ : state) {
    const AuditEvent& e = events[i];
    i = i + 1 == events.size() ? 0 : i + 1;
    const policy::Decision d = policy->evaluate(policy::attributes_from_event(e, &path));
    kept += d.level != Level::kNone ? 1 : 0;
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["events_in_mix"] = static_cast<double>(events.size());
  state.counters["kept_share"] =
      static_cast<double>(kept) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_GcePolicyEvaluate);

// Baseline: the same policy and mix through the uncompiled reference algorithm (string
// comparisons rule by rule, tests/unit/policy/reference_checker.h).
void BM_GcePolicyEvaluateReference(benchmark::State& state) {
  auto loaded = policy::load_policy_file(std::string(KTRAIL_SOURCE_DIR) +
                                         "/examples/policies/gce-audit-policy.yaml");
  auto compiled = gce_policy();
  const std::vector<AuditEvent> events = realistic_mix();
  std::string path;
  // Both must agree on every event of the mix, or the comparison means nothing.
  for (const auto& e : events) {
    const auto a = policy::attributes_from_event(e, &path);
    const auto d = compiled->evaluate(a);
    if ((d.rule ? static_cast<int>(*d.rule) : -1) !=
        policy::testing::reference_first_match(loaded.policy, a)) {
      state.SkipWithError("compiled and reference checkers disagree");
      return;
    }
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const AuditEvent& e = events[i];
    i = i + 1 == events.size() ? 0 : i + 1;
    const int rule = policy::testing::reference_first_match(
        loaded.policy, policy::attributes_from_event(e, &path));
    benchmark::DoNotOptimize(rule);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_GcePolicyEvaluateReference);

// Floor: taking the attributes from the events, without evaluating anything.
void BM_AttributesOnly(benchmark::State& state) {
  const std::vector<AuditEvent> events = realistic_mix();
  std::string path;
  std::size_t i = 0;
  for (auto _ : state) {
    const AuditEvent& e = events[i];
    i = i + 1 == events.size() ? 0 : i + 1;
    auto a = policy::attributes_from_event(e, &path);
    benchmark::DoNotOptimize(a);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_AttributesOnly);

std::vector<std::string> request_response_lines() {
  std::vector<std::string> out;
  for (const auto& line : read_lines("falco-k8s-audit-trace-files.jsonl")) {
    if (line.find("\"level\":\"RequestResponse\"") != std::string::npos) {
      out.push_back(line);
    }
  }
  return out;
}

void BM_IngestDecodeOnly(benchmark::State& state) {
  const auto lines = request_response_lines();
  std::size_t bytes = 0;
  for (auto _ : state) {
    Batch batch;
    DecodedAudit decoded;
    for (const auto& line : lines) {
      decode_audit_line(line, &decoded);
      bytes += line.size();
    }
    batch.audit = std::move(decoded.events);
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * lines.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_IngestDecodeOnly);

void BM_IngestDecodeAndApplyPolicy(benchmark::State& state) {
  const auto lines = request_response_lines();
  MetricsRegistry metrics;
  PolicyProcessor proc({gce_policy(), &metrics, nullptr});
  std::size_t bytes = 0;
  std::size_t lowered = 0;
  for (auto _ : state) {
    Batch batch;
    DecodedAudit decoded;
    for (const auto& line : lines) {
      decode_audit_line(line, &decoded);
      bytes += line.size();
    }
    batch.audit = std::move(decoded.events);
    BatchOutcome outcome;
    proc.process(batch, outcome);
    for (const auto& e : batch.audit) {
      lowered += e.level != e.level_received ? 1 : 0;
    }
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * lines.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["lowered_share"] =
      static_cast<double>(lowered) / static_cast<double>(state.iterations() * lines.size());
}
BENCHMARK(BM_IngestDecodeAndApplyPolicy);

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The two ingest variants above, alternated within one run and timed on this thread's CPU
// clock, so that load from other processes falls on both alike: `overhead_pct` is what the
// policy stage adds to decoding.
void BM_PolicyOverheadPaired(benchmark::State& state) {
  const auto lines = request_response_lines();
  MetricsRegistry metrics;
  PolicyProcessor proc({gce_policy(), &metrics, nullptr});
  double decode_only = 0;
  double with_policy = 0;
  auto ingest = [&](bool apply) {
    Batch batch;
    DecodedAudit decoded;
    for (const auto& line : lines) {
      decode_audit_line(line, &decoded);
    }
    batch.audit = std::move(decoded.events);
    if (apply) {
      BatchOutcome outcome;
      proc.process(batch, outcome);
    }
    benchmark::DoNotOptimize(batch);
  };
  bool policy_first = false;
  for (auto _ : state) {
    // The order alternates so that neither variant always runs on a warmer cache.
    policy_first = !policy_first;
    const double t0 = thread_cpu_seconds();
    ingest(policy_first);
    const double t1 = thread_cpu_seconds();
    ingest(!policy_first);
    const double t2 = thread_cpu_seconds();
    (policy_first ? with_policy : decode_only) += t1 - t0;
    (policy_first ? decode_only : with_policy) += t2 - t1;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * lines.size() * 2));
  state.counters["decode_us_per_event"] =
      decode_only * 1e6 / static_cast<double>(state.iterations() * lines.size());
  state.counters["policy_us_per_event"] =
      (with_policy - decode_only) * 1e6 / static_cast<double>(state.iterations() * lines.size());
  state.counters["overhead_pct"] = (with_policy - decode_only) / decode_only * 100.0;
}
BENCHMARK(BM_PolicyOverheadPaired);

// The whole default chain (GCE policy, secret redaction, --max-event-bytes 102400) over a
// real Metadata-level log (tests/data/audit2rbac-demo-raw-v1beta1.jsonl, 757 events, most
// without objects), paired with decoding alone as above. Events the stages leave alone must
// cost next to nothing.
void BM_ChainOverheadMetadataLogPaired(benchmark::State& state) {
  const auto lines = read_lines("audit2rbac-demo-raw-v1beta1.jsonl");
  AuditProcessingOptions opts;
  MetricsRegistry metrics;
  opts.metrics = &metrics;
  opts.policy_file = std::string(KTRAIL_SOURCE_DIR) + "/examples/policies/gce-audit-policy.yaml";
  opts.max_event_bytes = 102400;
  auto chain = build_audit_processors(opts);
  if (!chain) {
    state.SkipWithError("cannot build the chain");
    return;
  }
  double decode_only = 0;
  double with_chain = 0;
  auto ingest = [&](bool apply) {
    DecodedAudit decoded;
    for (const auto& line : lines) {
      decode_audit_line(line, &decoded);
    }
    Batch batch;
    batch.audit = std::move(decoded.events);
    if (apply) {
      BatchOutcome outcome;
      run_processors(*chain, batch, outcome);
    }
    benchmark::DoNotOptimize(batch);
  };
  bool chain_first = false;
  for (auto _ : state) {
    chain_first = !chain_first;
    const double t0 = thread_cpu_seconds();
    ingest(chain_first);
    const double t1 = thread_cpu_seconds();
    ingest(!chain_first);
    const double t2 = thread_cpu_seconds();
    (chain_first ? with_chain : decode_only) += t1 - t0;
    (chain_first ? decode_only : with_chain) += t2 - t1;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * lines.size() * 2));
  state.counters["chain_ns_per_event"] =
      (with_chain - decode_only) * 1e9 / static_cast<double>(state.iterations() * lines.size());
  state.counters["overhead_pct"] = (with_chain - decode_only) / decode_only * 100.0;
}
BENCHMARK(BM_ChainOverheadMetadataLogPaired);

}  // namespace
}  // namespace ktrail

BENCHMARK_MAIN();
