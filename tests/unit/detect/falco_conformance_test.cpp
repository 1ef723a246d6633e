// Falco's public k8s_audit rules (Falco's own files, ../shared/falco) load unchanged, and fire on
// Falco's own k8s_audit trace events exactly as their conditions say. The expectations below
// are written from the rules' conditions and the k8saudit plugin's field meanings, one
// predicate per rule over the raw event JSON; they do not use the engine.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "core/json.h"
#include "tests/unit/detect/detect_test_util.h"

namespace ktrail::detect {
namespace {

const std::string kFalco = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/falco/";
const std::string kTrace = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/falco-k8s-audit-trace-files.jsonl";

using Opt = std::optional<std::string>;

// The raw event, read the way the plugin reads it.
struct Raw {
  rapidjson::Document doc;
  const rapidjson::Value* at(std::initializer_list<const char*> keys) const {
    const rapidjson::Value* v = &doc;
    for (const char* k : keys) {
      if (!v->IsObject() || !v->HasMember(k)) {
        return nullptr;
      }
      v = &(*v)[k];
    }
    return v;
  }
  Opt str(std::initializer_list<const char*> keys) const {
    const rapidjson::Value* v = at(keys);
    if (v == nullptr || v->IsNull()) {
      return std::nullopt;
    }
    return v->IsString() ? std::string(v->GetString()) : json::to_compact(*v);
  }
  // One string per element of an array, or per container's value at `keys`.
  std::optional<std::vector<std::string>> per(std::initializer_list<const char*> array,
                                              std::initializer_list<const char*> keys) const {
    const rapidjson::Value* a = at(array);
    if (a == nullptr || !a->IsArray()) {
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (const auto& item : a->GetArray()) {
      const rapidjson::Value* v = &item;
      for (const char* k : keys) {
        v = (v != nullptr && v->IsObject() && v->HasMember(k)) ? &(*v)[k] : nullptr;
      }
      if (v == nullptr || v->IsNull()) {
        continue;
      }
      if (v->IsArray()) {
        for (const auto& x : v->GetArray()) {
          out.push_back(x.IsString() ? x.GetString() : json::to_compact(x));
        }
      } else {
        out.push_back(v->IsString() ? v->GetString() : json::to_compact(*v));
      }
    }
    return out;
  }
};

bool eq(const Opt& v, const std::string& s) { return v && *v == s; }
bool starts(const Opt& v, const std::string& s) { return v && v->rfind(s, 0) == 0; }
bool in(const Opt& v, const std::set<std::string>& s) { return v && s.count(*v); }
// `in` on a list field: every value in the set; no value at all is false.
bool all_in(const std::optional<std::vector<std::string>>& v, const std::set<std::string>& s) {
  if (!v) {
    return false;
  }
  for (const auto& x : *v) {
    if (!s.count(x)) {
      return false;
    }
  }
  return true;
}
bool any_in(const std::optional<std::vector<std::string>>& v, const std::set<std::string>& s) {
  if (!v) {
    return false;
  }
  for (const auto& x : *v) {
    if (s.count(x)) {
      return true;
    }
  }
  return false;
}

// Falco's lists, read as data from its files (nested list names expanded).
std::map<std::string, std::set<std::string>> read_lists() {
  std::map<std::string, std::vector<std::string>> raw;
  for (const char* f : {"falco_rules_k8s_lists_excerpt.yaml", "k8s_audit_rules.yaml"}) {
    for (const auto& item : YAML::LoadFile(kFalco + f)) {
      if (item.IsMap() && item["list"]) {
        auto& items = raw[item["list"].as<std::string>()];
        for (const auto& i : item["items"]) {
          items.push_back(i.as<std::string>());
        }
      }
    }
  }
  std::map<std::string, std::set<std::string>> out;
  std::function<void(const std::string&, std::set<std::string>*)> expand =
      [&](const std::string& name, std::set<std::string>* into) {
        for (const auto& i : raw[name]) {
          if (raw.count(i)) {
            expand(i, into);
          } else {
            into->insert(i);
          }
        }
      };
  for (const auto& [name, items] : raw) {
    expand(name, &out[name]);
  }
  return out;
}

using Predicate = std::function<bool(const Raw&)>;

std::map<std::string, Predicate> falco_predicates(std::map<std::string, std::set<std::string>>& L) {
  auto stage = [](const Raw& e) { return e.str({"stage"}); };
  auto kevt = [=](const Raw& e) { return eq(stage(e), "ResponseComplete"); };
  auto user = [](const Raw& e) { return e.str({"user", "username"}); };
  auto verb = [](const Raw& e) { return e.str({"verb"}); };
  auto res = [](const Raw& e) { return e.str({"objectRef", "resource"}); };
  auto sub = [](const Raw& e) { return e.str({"objectRef", "subresource"}); };
  auto ns = [](const Raw& e) { return e.str({"objectRef", "namespace"}); };
  auto name = [](const Raw& e) { return e.str({"objectRef", "name"}); };
  auto code = [](const Raw& e) { return e.str({"responseStatus", "code"}); };
  auto ok = [=](const Raw& e) { return starts(code(e), "2"); };
  auto non_system = [=](const Raw& e) { return !starts(user(e), "system:"); };
  auto repos = [](const Raw& e) -> std::optional<std::vector<std::string>> {
    auto images = e.per({"requestObject", "spec", "containers"}, {"image"});
    if (!images) {
      return images;
    }
    for (auto& i : *images) {
      i = i.substr(0, i.find(':'));
      i = i.substr(0, i.find('@'));
    }
    return images;
  };
  auto pod = [=](const Raw& e) { return eq(res(e), "pods") && !sub(e); };
  auto is = [=](const char* r) { return [=](const Raw& e) { return eq(res(e), r); }; };
  auto created = [=](const char* r) {
    return [=](const Raw& e) { return kevt(e) && eq(verb(e), "create") && eq(res(e), r) && ok(e); };
  };
  auto deleted = [=](const char* r) {
    return [=](const Raw& e) { return kevt(e) && eq(verb(e), "delete") && eq(res(e), r) && ok(e); };
  };
  auto role_or_cr = [=](const Raw& e) { return eq(res(e), "roles") || eq(res(e), "clusterroles"); };
  auto modify = [=](const Raw& e) { return in(verb(e), {"create", "update", "patch"}); };
  auto rule_verbs = [](const Raw& e) { return e.per({"requestObject", "rules"}, {"verbs"}); };
  auto rule_res = [](const Raw& e) { return e.per({"requestObject", "rules"}, {"resources"}); };
  auto endpoint = [](const Opt& uri, const char* p) {
    return eq(uri, p) || starts(uri, std::string(p) + "?");
  };
  std::map<std::string, Predicate> p;
  p["Disallowed K8s User"] = [=, &L](const Raw& e) {
    return kevt(e) && non_system(e) && !in(user(e), L["allowed_k8s_users"]) &&
           !in(user(e), L["eks_allowed_k8s_users"]);
  };
  p["Create Disallowed Pod"] = [](const Raw&) { return false; };  // allowed_k8s_containers: always
  p["Create Privileged Pod"] = [=, &L](const Raw& e) {
    return kevt(e) && pod(e) && eq(verb(e), "create") &&
           any_in(e.per({"requestObject", "spec", "containers"}, {"securityContext", "privileged"}),
                  {"true"}) &&
           !all_in(repos(e), L["falco_privileged_images"]);
  };
  p["Create Sensitive Mount Pod"] = [=, &L](const Raw& e) {
    return kevt(e) && pod(e) && eq(verb(e), "create") &&
           any_in(e.per({"requestObject", "spec", "volumes"}, {"hostPath", "path"}),
                  {"/proc", "/var/run/docker.sock", "/", "/etc", "/root", "/var/run/crio/crio.sock",
                   "/run/containerd/containerd.sock", "/home/admin", "/var/lib/kubelet",
                   "/var/lib/kubelet/pki", "/etc/kubernetes", "/etc/kubernetes/manifests"}) &&
           !all_in(repos(e), L["falco_sensitive_mount_images"]);
  };
  auto host_flag = [=, &L](const char* flag, const char* list) {
    return [=, &L](const Raw& e) {
      return kevt(e) && pod(e) && eq(verb(e), "create") &&
             eq(e.str({"requestObject", "spec", flag}), "true") && !all_in(repos(e), L[list]);
    };
  };
  p["Create HostNetwork Pod"] = host_flag("hostNetwork", "falco_hostnetwork_images");
  p["Create HostPid Pod"] = host_flag("hostPID", "falco_hostpid_images");
  p["Create HostIPC Pod"] = host_flag("hostIPC", "falco_hostipc_images");
  p["Create NodePort Service"] = [=](const Raw& e) {
    return kevt(e) && is("services")(e) && eq(verb(e), "create") &&
           eq(e.str({"requestObject", "spec", "type"}), "NodePort");
  };
  p["Create/Modify Configmap With Private Credentials"] = [=](const Raw& e) {
    Opt data = e.str({"requestObject", "data"});
    bool secret = false;
    for (const char* w : {"aws_access_key_id", "aws-access-key-id", "aws_s3_access_key_id",
                          "aws-s3-access-key-id", "password", "passphrase"}) {
      secret = secret || (data && data->find(w) != std::string::npos);
    }
    return kevt(e) && is("configmaps")(e) && modify(e) && secret;
  };
  p["Anonymous Request Allowed"] = [=](const Raw& e) {
    Opt uri = e.str({"requestURI"});
    return kevt(e) && eq(user(e), "system:anonymous") &&
           eq(e.str({"annotations", "authorization.k8s.io/decision"}), "allow") &&
           !endpoint(uri, "/healthz") && !endpoint(uri, "/livez") && !endpoint(uri, "/readyz");
  };
  p["Attach/Exec Pod"] = [=](const Raw& e) {
    return eq(stage(e), "ResponseStarted") && eq(res(e), "pods") && sub(e) &&
           eq(verb(e), "create") && in(sub(e), {"exec", "attach"});
  };
  p["EphemeralContainers Created"] = [=](const Raw& e) {
    return kevt(e) && eq(res(e), "pods") && sub(e) && modify(e) &&
           eq(sub(e), "ephemeralcontainers");
  };
  p["Create Disallowed Namespace"] = [=](const Raw& e) {
    return kevt(e) && is("namespaces")(e) && eq(verb(e), "create") &&
           !in(name(e), {"kube-system", "kube-public", "default"});
  };
  p["Pod Created in Kube Namespace"] = [=, &L](const Raw& e) {
    return kevt(e) && pod(e) && eq(verb(e), "create") && in(ns(e), {"kube-system", "kube-public"}) &&
           !(all_in(repos(e), L["user_allowed_kube_namespace_image_list"]) ||
             all_in(repos(e), L["allowed_kube_namespace_image_list"]));
  };
  p["Service Account Created in Kube Namespace"] = [=, &L](const Raw& e) {
    std::set<std::string> trusted = L["known_sa_list"];
    return kevt(e) && is("serviceaccounts")(e) && eq(verb(e), "create") &&
           in(ns(e), {"kube-system", "kube-public"}) && ok(e) && !in(name(e), trusted);
  };
  p["System ClusterRole Modified/Deleted"] = [=](const Raw& e) {
    return kevt(e) && role_or_cr(e) && (modify(e) || eq(verb(e), "delete")) &&
           starts(name(e), "system:") &&
           !in(name(e), {"system:coredns", "system:managed-certificate-controller"});
  };
  p["Attach to cluster-admin Role"] = [=](const Raw& e) {
    return kevt(e) && is("clusterrolebindings")(e) && eq(verb(e), "create") &&
           eq(e.str({"requestObject", "roleRef", "name"}), "cluster-admin");
  };
  p["ClusterRole With Wildcard Created"] = [=](const Raw& e) {
    return kevt(e) && role_or_cr(e) && eq(verb(e), "create") &&
           (any_in(rule_res(e), {"*"}) || any_in(rule_verbs(e), {"*"}));
  };
  p["ClusterRole With Write Privileges Created"] = [=](const Raw& e) {
    return kevt(e) && role_or_cr(e) && eq(verb(e), "create") &&
           any_in(rule_verbs(e), {"create", "update", "patch", "delete", "deletecollection"});
  };
  p["ClusterRole With Pod Exec Created"] = [=](const Raw& e) {
    return kevt(e) && role_or_cr(e) && eq(verb(e), "create") && any_in(rule_res(e), {"pods/exec"});
  };
  p["K8s Deployment Created"] = created("deployments");
  p["K8s Deployment Deleted"] = deleted("deployments");
  p["K8s Service Created"] = created("services");
  p["K8s Service Deleted"] = deleted("services");
  p["K8s ConfigMap Created"] = created("configmaps");
  p["K8s ConfigMap Deleted"] = deleted("configmaps");
  p["K8s Namespace Created"] = created("namespaces");
  p["K8s Namespace Deleted"] = [=](const Raw& e) {
    return deleted("namespaces")(e) && non_system(e);
  };
  p["K8s Serviceaccount Created"] = created("serviceaccounts");
  p["K8s Serviceaccount Deleted"] = deleted("serviceaccounts");
  p["K8s Role/Clusterrole Created"] = [=](const Raw& e) {
    return created("roles")(e) || created("clusterroles")(e);
  };
  p["K8s Role/Clusterrole Deleted"] = [=](const Raw& e) {
    return deleted("roles")(e) || deleted("clusterroles")(e);
  };
  p["K8s Role/Clusterrolebinding Created"] = created("clusterrolebindings");
  p["K8s Role/Clusterrolebinding Deleted"] = deleted("clusterrolebindings");
  // ka.target.namespace!=kube-system is false when the event has no namespace.
  p["K8s Secret Created"] = [=](const Raw& e) {
    return created("secrets")(e) && ns(e) && !eq(ns(e), "kube-system") && non_system(e);
  };
  p["K8s Secret Deleted"] = [=](const Raw& e) {
    return deleted("secrets")(e) && ns(e) && !eq(ns(e), "kube-system") && non_system(e);
  };
  p["K8s Secret Get Successfully"] = [=](const Raw& e) {
    return is("secrets")(e) && eq(verb(e), "get") && kevt(e) && ok(e);
  };
  p["K8s Secret Get Unsuccessfully Tried"] = [=](const Raw& e) {
    return is("secrets")(e) && eq(verb(e), "get") && kevt(e) && !ok(e);
  };
  p["All K8s Audit Events"] = [](const Raw&) { return false; };             // consider_all_events
  p["Full K8s Administrative Access"] = [](const Raw&) { return false; };   // allowed: always
  p["Ingress Object without TLS Certificate Created"] = [=](const Raw& e) {
    return created("ingresses")(e) && e.at({"requestObject", "spec", "tls"}) == nullptr;
  };
  p["Untrusted Node Successfully Joined the Cluster"] = [](const Raw&) { return false; };
  p["Untrusted Node Unsuccessfully Tried to Join the Cluster"] = [](const Raw&) { return false; };
  return p;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      out.push_back(line);
    }
  }
  return out;
}

TEST(FalcoConformance, PublicRulesLoadAndFireAsTheirConditionsSay) {
  Diagnostics diags;
  auto engine = Engine::load({kFalco + "falco_rules_k8s_lists_excerpt.yaml",
                              kFalco + "k8s_audit_rules.yaml"},
                             &diags);
  ASSERT_NE(engine, nullptr) << testing::all_messages(diags);
  // 43 rules in the file; all enabled, all k8s_audit.
  EXPECT_EQ(engine->rules().size(), 43u);
  bool warned_empty = false;
  for (const auto& d : diags.items) {
    warned_empty = warned_empty || d.message == "empty entry '-' skipped";
  }
  EXPECT_TRUE(warned_empty) << testing::all_messages(diags);

  auto lists = read_lists();
  auto predicates = falco_predicates(lists);
  for (const auto& r : engine->rules()) {
    EXPECT_TRUE(predicates.count(r.name)) << "no expectation written for rule '" << r.name << "'";
  }
  const auto lines = lines_of(kTrace);
  ASSERT_EQ(lines.size(), 51u);
  std::vector<std::string> expected;
  std::vector<std::string> actual;
  std::set<std::string> fired;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    Raw raw;
    ASSERT_TRUE(json::parse(lines[i], &raw.doc).is_ok());
    DecodedAudit decoded;
    decode_audit_line(lines[i], &decoded);
    ASSERT_EQ(decoded.events.size(), 1u) << "line " << i + 1;
    for (const auto& [name, predicate] : predicates) {
      if (predicate(raw)) {
        expected.push_back("line " + std::to_string(i + 1) + ": " + name);
      }
    }
    std::vector<const CompiledRule*> matches;
    engine->evaluate(decoded.events[0], &matches);
    for (const auto* r : matches) {
      actual.push_back("line " + std::to_string(i + 1) + ": " + r->name);
      fired.insert(r->name);
    }
  }
  std::sort(expected.begin(), expected.end());
  std::sort(actual.begin(), actual.end());
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(engine->evaluation_errors(), 0u);
  // The trace files were written for these rules: most of them fire at least once.
  EXPECT_GE(fired.size(), 20u) << actual.size();
}

}  // namespace
}  // namespace ktrail::detect
