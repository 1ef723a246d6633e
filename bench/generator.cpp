#include "bench/generator.h"

#include <array>
#include <cstdio>

namespace ktrail::bench {
namespace {

struct ResourceKind {
  const char* resource;
  const char* subresource;
  const char* group;
  const char* kind;
  bool namespaced;
  int weight;
};

constexpr std::array kResources = {
    ResourceKind{"leases", "", "coordination.k8s.io", "Lease", true, 20},
    ResourceKind{"pods", "", "", "Pod", true, 18},
    ResourceKind{"pods", "status", "", "Pod", true, 8},
    ResourceKind{"nodes", "", "", "Node", false, 6},
    ResourceKind{"nodes", "status", "", "Node", false, 8},
    ResourceKind{"configmaps", "", "", "ConfigMap", true, 8},
    ResourceKind{"secrets", "", "", "Secret", true, 5},
    ResourceKind{"endpointslices", "", "discovery.k8s.io", "EndpointSlice", true, 6},
    ResourceKind{"events", "", "", "Event", true, 6},
    ResourceKind{"deployments", "", "apps", "Deployment", true, 4},
    ResourceKind{"replicasets", "", "apps", "ReplicaSet", true, 3},
    ResourceKind{"services", "", "", "Service", true, 3},
    ResourceKind{"serviceaccounts", "token", "", "ServiceAccount", true, 2},
    ResourceKind{"pods", "log", "", "Pod", true, 1},
    ResourceKind{"pods", "exec", "", "Pod", true, 1},
    ResourceKind{"rolebindings", "", "rbac.authorization.k8s.io", "RoleBinding", true, 1},
};

constexpr std::array kVerbs = {"get",   "get",    "get",    "list", "watch",  "update",
                               "patch", "create", "delete", "get",  "update", "list"};

constexpr std::array kNamespaces = {"default",       "kube-system",  "kube-public", "monitoring",
                                    "ingress-nginx", "cert-manager", "prod",        "staging",
                                    "payments",      "checkout",     "search",      "auth",
                                    "logging",       "istio-system", "argocd",      "data"};

constexpr std::array kControllers = {"replicaset-controller",    "deployment-controller",
                                     "endpointslice-controller", "node-controller",
                                     "namespace-controller",     "job-controller",
                                     "daemon-set-controller",    "statefulset-controller"};

constexpr std::array kHumans = {"alice@example.com", "bob@example.com",  "carol@example.com",
                                "dave@example.com",  "erin@example.com", "oncall@example.com"};

constexpr int kNodes = 60;

std::string pick_user(std::mt19937_64& rng, std::string* groups, std::string* agent,
                      std::string* ip) {
  const int roll = static_cast<int>(rng() % 100);
  char buf[160];
  if (roll < 45) {
    const int node = static_cast<int>(rng() % kNodes);
    std::snprintf(buf, sizeof buf, "10.0.%d.%d", node / 200, 10 + node % 200);
    *ip = buf;
    *groups = R"(["system:nodes","system:authenticated"])";
    *agent = "kubelet/v1.29.2 (linux/amd64) kubernetes/4b8e819";
    std::snprintf(buf, sizeof buf, "system:node:ip-10-0-%d-%d.ec2.internal", node / 200,
                  10 + node % 200);
    return buf;
  }
  if (roll < 75) {
    *ip = "10.0.0.5";
    *groups =
        R"(["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"])";
    const char* c = kControllers[rng() % kControllers.size()];
    *agent = std::string("kube-controller-manager/v1.29.2 (linux/amd64) kubernetes/4b8e819/") + c;
    return std::string("system:serviceaccount:kube-system:") + c;
  }
  if (roll < 85) {
    *ip = "10.0.0.5";
    *groups = R"(["system:authenticated"])";
    *agent = "kube-scheduler/v1.29.2 (linux/amd64) kubernetes/4b8e819/scheduler";
    return "system:kube-scheduler";
  }
  if (roll < 96) {
    const char* ns = kNamespaces[rng() % kNamespaces.size()];
    const int app = static_cast<int>(rng() % 40);
    std::snprintf(buf, sizeof buf, "10.1.%d.%d", static_cast<int>(rng() % 250),
                  static_cast<int>(rng() % 250));
    *ip = buf;
    *groups = std::string(R"(["system:serviceaccounts","system:serviceaccounts:)") + ns +
              R"(","system:authenticated"])";
    *agent = "Go-http-client/2.0";
    std::snprintf(buf, sizeof buf, "system:serviceaccount:%s:app-%d", ns, app);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "203.0.113.%d", static_cast<int>(rng() % 250));
  *ip = buf;
  *groups = R"(["developers","system:authenticated"])";
  *agent = "kubectl/v1.29.1 (darwin/arm64) kubernetes/bc401b9";
  return kHumans[rng() % kHumans.size()];
}

const ResourceKind& pick_resource(std::mt19937_64& rng) {
  static const int total = [] {
    int t = 0;
    for (const auto& r : kResources) {
      t += r.weight;
    }
    return t;
  }();
  int roll = static_cast<int>(rng() % static_cast<std::uint64_t>(total));
  for (const auto& r : kResources) {
    if (roll < r.weight) {
      return r;
    }
    roll -= r.weight;
  }
  return kResources[0];
}

// Objects of each resource kind, and how often a touched object is replaced by a new one.
constexpr int kObjectsPerResource = 400;
constexpr std::uint64_t kReplaceOneIn = 256;

std::string hex(std::mt19937_64& rng, int digits) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < digits; ++i) {
    s += kHex[rng() % 16];
  }
  return s;
}

}  // namespace

AuditGenerator::AuditGenerator(GeneratorOptions options)
    : options_(options), rng_(options.seed), clock_(options.start) {}

std::string AuditGenerator::next_line() {
  ++produced_;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  if (!recent_.empty() && unit(rng_) < options_.duplicate_rate) {
    ++repeats_;
    return recent_[rng_() % recent_.size()];
  }
  std::string line = fresh_event();
  recent_.push_back(line);
  if (recent_.size() > 64) {
    recent_.pop_front();
  }
  return line;
}

std::string AuditGenerator::next_event_list(std::size_t n) {
  std::string body =
      R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[)";
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) {
      body += ',';
    }
    body += next_line();
  }
  body += "]}";
  return body;
}

std::string AuditGenerator::object_json(const std::string& kind, const std::string& ns,
                                        const std::string& name) {
  // A plausible object: metadata, labels, annotations and a spec padded with container env.
  std::string o = R"({"kind":")" + kind + R"(","apiVersion":"v1","metadata":{"name":")" + name +
                  R"(","namespace":")" + ns + R"(","uid":")" + hex(rng_, 8) + "-" + hex(rng_, 4) +
                  "-" + hex(rng_, 4) + "-" + hex(rng_, 4) + "-" + hex(rng_, 12) +
                  R"(","resourceVersion":")" + std::to_string(rng_() % 100000000) +
                  R"(","labels":{"app":")" + name +
                  R"(","tier":"backend"}},"spec":{"containers":[)";
  int i = 0;
  while (o.size() < options_.object_bytes) {
    o += (i ? "," : "");
    o += R"({"name":"c)" + std::to_string(i++) + R"(","image":"registry.example.com/team/app:)" +
         hex(rng_, 12) + R"(","env":[{"name":"CONFIG_HASH","value":")" + hex(rng_, 40) +
         R"("},{"name":"LOG_LEVEL","value":"info"}],"resources":{"requests":{"cpu":"100m",)"
         R"("memory":"128Mi"}}})";
  }
  o += "]}}";
  return o;
}

std::string AuditGenerator::fresh_event() {
  std::string groups, agent, ip;
  const std::string user = pick_user(rng_, &groups, &agent, &ip);
  const ResourceKind& r = pick_resource(rng_);
  std::string verb = kVerbs[rng_() % kVerbs.size()];
  if (r.subresource[0] == 'e' || r.subresource[0] == 'l') {
    verb = r.subresource[0] == 'e' ? "create" : "get";
  }
  if (r.subresource[0] == 's' && verb != "get") {
    verb = "patch";
  }
  const std::string ns = r.namespaced ? kNamespaces[rng_() % kNamespaces.size()] : "";
  char name[96];
  if (std::string_view(r.resource) == "nodes") {
    const int node = static_cast<int>(rng_() % kNodes);
    std::snprintf(name, sizeof name, "ip-10-0-%d-%d.ec2.internal", node / 200, 10 + node % 200);
  } else {
    // Objects are touched many times over their life (status updates, gets, renewals); now
    // and then one is replaced by a new one of another name (a pod rescheduled).
    const int slot = static_cast<int>(rng_() % kObjectsPerResource);
    std::string& suffix = object_suffixes_[std::string(r.resource) + "/" + std::to_string(slot)];
    if (suffix.empty() || rng_() % kReplaceOneIn == 0) {
      suffix = hex(rng_, 5);
    }
    std::snprintf(name, sizeof name, "%s-%d-%s", r.resource, slot, suffix.c_str());
  }
  const bool collection = verb == "list" || verb == "watch" || verb == "create";
  int code = verb == "create" ? 201 : 200;
  const int roll = static_cast<int>(rng_() % 1000);
  if (roll < 25) {
    code = 404;
  } else if (roll < 35) {
    code = 409;
  } else if (roll < 42) {
    code = 403;
  } else if (roll < 44) {
    code = 500;
  }
  // Timestamps: stage times increase with jitter; the request arrived a latency earlier.
  clock_ += 1 + static_cast<Micros>(rng_() % static_cast<std::uint64_t>(2 * options_.mean_spacing));
  const Micros latency = 300 + static_cast<Micros>(rng_() % 40000);
  const std::string stage_ts = format_rfc3339(clock_);
  const std::string received_ts = format_rfc3339(clock_ - latency);

  std::string uri =
      std::string(r.group[0] ? "/apis/" : "/api/") + r.group + (r.group[0] ? "/v1" : "v1");
  if (!ns.empty()) {
    uri += "/namespaces/" + ns;
  }
  uri += std::string("/") + r.resource;
  if (!collection) {
    uri += std::string("/") + name;
    if (r.subresource[0]) {
      uri += std::string("/") + r.subresource;
    }
  } else if (verb == "watch") {
    uri += "?allowWatchBookmarks=true&resourceVersion=" + std::to_string(rng_() % 100000000) +
           "&timeout=7m41s&timeoutSeconds=461&watch=true";
  } else if (verb == "list") {
    uri += "?limit=500&resourceVersion=0";
  }

  std::string e;
  e.reserve(1400 + (options_.request_response ? 2 * options_.object_bytes : 0));
  e += R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":")";
  e += options_.request_response ? "RequestResponse" : "Metadata";
  e += R"(","auditID":")" + hex(rng_, 8) + "-" + hex(rng_, 4) + "-4" + hex(rng_, 3) + "-a" +
       hex(rng_, 3) + "-" + hex(rng_, 12);
  e += R"(","stage":"ResponseComplete","requestURI":")" + uri + R"(","verb":")" + verb;
  e += R"(","user":{"username":")" + user + R"(","uid":")" + hex(rng_, 8) + "-" + hex(rng_, 4) +
       R"(","groups":)" + groups;
  if (user.rfind("system:node:", 0) == 0) {
    e += R"(,"extra":{"authentication.kubernetes.io/credential-id":["X509SHA256=)" + hex(rng_, 64) +
         R"("]})";
  }
  e +=
      R"(},"sourceIPs":[")" + ip + R"("],"userAgent":")" + agent + R"(","objectRef":{"resource":")";
  e += r.resource;
  if (!ns.empty()) {
    e += R"(","namespace":")" + ns;
  }
  if (!collection) {
    e += R"(","name":")" + std::string(name);
  }
  e += R"(","apiGroup":")" + std::string(r.group) + R"(","apiVersion":"v1")";
  if (r.subresource[0]) {
    e += R"(,"subresource":")" + std::string(r.subresource) + "\"";
  }
  e += R"(},"responseStatus":{"metadata":{})";
  if (code >= 400) {
    e += R"(,"status":"Failure","message":")" + std::string(r.resource) + " \\\"" + name +
         R"(\" )" +
         (code == 404   ? "not found"
          : code == 403 ? "is forbidden"
                        : "conflict") +
         R"(","reason":")" +
         (code == 404   ? "NotFound"
          : code == 403 ? "Forbidden"
                        : "Conflict") +
         "\"";
  }
  e += R"(,"code":)" + std::to_string(code) + "}";
  if (options_.request_response && (verb == "create" || verb == "update" || verb == "patch")) {
    e += R"(,"requestObject":)" + object_json(r.kind, ns, name);
  }
  if (options_.request_response && code < 400) {
    e += R"(,"responseObject":)" + object_json(r.kind, ns, name);
  }
  e += R"(,"requestReceivedTimestamp":")" + received_ts + R"(","stageTimestamp":")" + stage_ts;
  e += R"(","annotations":{"authorization.k8s.io/decision":")";
  e += code == 403 ? "forbid" : "allow";
  e += R"(","authorization.k8s.io/reason":")";
  e += code == 403 ? ""
                   : "RBAC: allowed by ClusterRoleBinding \\\"system:" + std::string(r.resource) +
                         "-access\\\" of ClusterRole \\\"system:" + r.resource +
                         "-access\\\" to Group \\\"system:authenticated\\\"";
  e +=
      R"(","apiserver.latency.k8s.io/etcd":")" + std::to_string(latency / 3) +
      R"(µs","apiserver.latency.k8s.io/response-write":"1.2µs","apiserver.latency.k8s.io/serialize-response-object":"45.3µs","apiserver.latency.k8s.io/total":")" +
      std::to_string(latency) +
      R"(µs","apiserver.latency.k8s.io/transform-response-object":"2.1µs"}})";
  return e;
}

}  // namespace ktrail::bench
