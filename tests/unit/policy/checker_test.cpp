// The matching edge cases of k8s-audit-spec.md §1.3 and §5, and the two policies of §4
// (examples/policies/) behaving as the spec describes.
#include <gtest/gtest.h>

#include "core/audit_json.h"
#include "processors/policy/request_info.h"
#include "tests/unit/policy/vectors.h"

namespace ktrail::policy {
namespace {

using namespace ktrail::policy::testing;

std::shared_ptr<const CompiledPolicy> compile_text(const std::string& rules) {
  auto loaded = parse_policy("apiVersion: audit.k8s.io/v1\nkind: Policy\n" + rules, "t.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.status().to_string();
  return compile_or_null(loaded.policy);
}

std::shared_ptr<const CompiledPolicy> compile_file(const std::string& name) {
  auto loaded = load_policy_file(std::string(KTRAIL_SOURCE_DIR) + "/examples/policies/" + name);
  EXPECT_TRUE(loaded.ok()) << loaded.status().to_string();
  return compile_or_null(loaded.policy);
}

// A request built from an HTTP method and URL, as kube-apiserver sees it.
OwnedRequest http(const std::string& user, std::vector<std::string> groups,
                  const std::string& method, const std::string& url) {
  const RequestInfo info = derive_request_info(method, url);
  OwnedRequest r;
  r.has_user = !user.empty();
  r.user = user;
  r.groups = std::move(groups);
  r.verb = info.verb;
  r.is_resource = info.is_resource_request;
  r.ns = info.namespace_;
  r.group = info.api_group;
  r.resource = info.resource;
  r.subresource = info.subresource;
  r.name = info.name;
  r.path = info.path;
  return r;
}

// The 1-based rule that matches, 0 for none (as `ktrail policy check` prints it).
std::size_t rule_of(const CompiledPolicy& p, const OwnedRequest& r) {
  const Decision d = p.evaluate(r.attrs());
  return d.rule ? *d.rule + 1 : 0;
}

TEST(PolicyChecker, SubresourceWildcards) {
  auto p = compile_text(
      "rules:\n"
      "- {level: Request, resources: [{resources: ['pods/*']}]}\n"
      "- {level: Metadata, resources: [{resources: ['*/scale']}]}\n"
      "- {level: RequestResponse, resources: [{resources: [pods]}]}\n");
  ASSERT_NE(p, nullptr);
  // pods/* also matches the bare resource.
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/api/v1/namespaces/d/pods/p1")), 1u);
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/api/v1/namespaces/d/pods/p1/log")), 1u);
  // */scale needs a subresource, from any resource of the group.
  EXPECT_EQ(
      rule_of(*p, http("u", {}, "PUT", "/api/v1/namespaces/d/replicationcontrollers/r/scale")), 2u);
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/api/v1/namespaces/d/replicationcontrollers/r")), 0u);
  // Another group does not match the core group's entries.
  EXPECT_EQ(rule_of(*p, http("u", {}, "PUT", "/apis/apps/v1/namespaces/d/deployments/x/scale")),
            0u);

  auto exact = compile_text("rules:\n- {level: Request, resources: [{resources: [pods]}]}\n");
  EXPECT_EQ(rule_of(*exact, http("u", {}, "GET", "/api/v1/namespaces/d/pods/p1/log")), 0u);
  auto star =
      compile_text("rules:\n- {level: Request, resources: [{group: '*', resources: ['*']}]}\n");
  EXPECT_EQ(rule_of(*star, http("u", {}, "GET", "/apis/apps/v1/namespaces/d/deployments/x/scale")),
            1u);
  EXPECT_EQ(rule_of(*star, http("u", {}, "GET", "/version")), 0u);
}

// kube-apiserver removes exactly one leading "*/" or trailing "/*" (strings.TrimPrefix /
// TrimSuffix) and compares what is left with the subresource or resource as is.
TEST(PolicyChecker, ResourceSpecsLoseOneWildcardOnly) {
  auto rule = [](const std::string& spec) {
    return compile_text("rules:\n- {level: Request, resources: [{resources: ['" + spec + "']}]}\n");
  };
  const auto log = http("u", {}, "GET", "/api/v1/namespaces/d/pods/p1/log");
  const auto pod = http("u", {}, "GET", "/api/v1/namespaces/d/pods/p1");
  // "pods/*/*" asks for the resource "pods/*"; "*/*/log" for the subresource "*/log".
  EXPECT_EQ(rule_of(*rule("pods/*/*"), log), 0u);
  EXPECT_EQ(rule_of(*rule("pods/*/*"), pod), 0u);
  EXPECT_EQ(rule_of(*rule("*/*/log"), log), 0u);
  EXPECT_EQ(rule_of(*rule("pods//*"), log), 0u);
  EXPECT_EQ(rule_of(*rule("*//log"), log), 0u);
  // "*/*": the subresource "*" or the resource "*", literally.
  EXPECT_EQ(rule_of(*rule("*/*"), log), 0u);
  EXPECT_EQ(rule_of(*rule("*/*"), http("u", {}, "GET", "/api/v1/namespaces/d/pods/p1/*")), 1u);
  EXPECT_EQ(rule_of(*rule("*/*"), http("u", {}, "GET", "/api/v1/namespaces/d/*/p1")), 1u);
  EXPECT_EQ(rule_of(*rule("pods/*"), log), 1u);
  EXPECT_EQ(rule_of(*rule("*/log"), log), 1u);
}

// "redirect" is no longer a special verb: /api/v1/redirect/... is a resource named redirect.
TEST(PolicyChecker, RedirectIsAResource) {
  const RequestInfo info = derive_request_info("GET", "/api/v1/redirect/namespaces/d/pods/p");
  EXPECT_TRUE(info.is_resource_request);
  EXPECT_EQ(info.verb, "get");
  EXPECT_EQ(info.resource, "redirect");
  EXPECT_EQ(info.name, "namespaces");
  EXPECT_EQ(info.subresource, "d");
}

TEST(PolicyChecker, StarIsLiteralOutsideResourcesGroupsAndUrls) {
  auto p = compile_text(
      "rules:\n"
      "- {level: Request, users: ['*']}\n"
      "- {level: Request, verbs: ['*']}\n"
      "- {level: Request, namespaces: ['*']}\n"
      "- {level: Request, userGroups: ['*']}\n"
      "- {level: Request, resources: [{resources: [pods], resourceNames: ['*']}]}\n");
  EXPECT_EQ(rule_of(*p, http("alice", {"g"}, "GET", "/api/v1/namespaces/d/pods/x")), 0u);
  EXPECT_EQ(rule_of(*p, http("*", {}, "GET", "/api/v1/namespaces/d/pods/x")), 1u);
  EXPECT_EQ(rule_of(*p, http("alice", {}, "GET", "/api/v1/namespaces/*/pods/x")), 3u);
  EXPECT_EQ(rule_of(*p, http("alice", {"*"}, "GET", "/healthz")), 4u);
  EXPECT_EQ(rule_of(*p, http("alice", {}, "GET", "/api/v1/namespaces/d/pods/*")), 5u);
}

TEST(PolicyChecker, NonResourceUrlsArePlainPrefixes) {
  auto p = compile_text(
      "rules:\n"
      "- {level: None, nonResourceURLs: ['/healthz*']}\n"
      "- {level: Request, nonResourceURLs: ['/logs/*']}\n"
      "- {level: Metadata, nonResourceURLs: ['/version']}\n");
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/healthz")), 1u);
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/healthzfoo")), 1u);
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/healthz/etcd?verbose")), 1u);
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/logs")), 0u);
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/logs/kubelet.log")), 2u);
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/version")), 3u);
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/version/")), 0u);
  // A URL rule never matches a resource request, and discovery is non-resource.
  EXPECT_EQ(rule_of(*compile_text("rules:\n- {level: None, nonResourceURLs: ['*']}\n"),
                    http("u", {}, "GET", "/api/v1/pods")),
            0u);
  EXPECT_EQ(rule_of(*compile_text("rules:\n- {level: None, nonResourceURLs: ['/apis*']}\n"),
                    http("u", {}, "GET", "/apis/apps/v1")),
            1u);
}

TEST(PolicyChecker, NamespacesAndClusterScope) {
  auto p = compile_text(
      "rules:\n"
      "- {level: Request, namespaces: ['']}\n"
      "- {level: Metadata, namespaces: [foo]}\n");
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/api/v1/nodes/n1")), 1u);
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/api/v1/namespaces")), 1u);
  // The Namespace object itself (and its status/finalize) has its own namespace.
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/api/v1/namespaces/foo")), 2u);
  EXPECT_EQ(rule_of(*p, http("u", {}, "PUT", "/api/v1/namespaces/foo/finalize")), 2u);
  // A namespace rule does not match non-resource requests.
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/healthz")), 0u);
}

TEST(PolicyChecker, ResourceNamesAndNamelessVerbs) {
  auto p = compile_text(
      "rules:\n"
      "- {level: None, resources: [{resources: [configmaps], resourceNames: [leader]}]}\n"
      "- {level: Request, resources: [{resources: [configmaps], resourceNames: ['']}]}\n");
  EXPECT_EQ(rule_of(*p, http("u", {}, "PUT", "/api/v1/namespaces/k/configmaps/leader")), 1u);
  // create, list and watch carry no name, except through fieldSelector=metadata.name.
  EXPECT_EQ(rule_of(*p, http("u", {}, "POST", "/api/v1/namespaces/k/configmaps")), 2u);
  EXPECT_EQ(rule_of(*p, http("u", {}, "GET", "/api/v1/namespaces/k/configmaps?watch=1")), 2u);
  EXPECT_EQ(
      rule_of(*p, http("u", {}, "GET",
                       "/api/v1/namespaces/k/configmaps?fieldSelector=metadata.name%3Dleader")),
      1u);
  // A group entry with no resources matches everything in it, whatever resourceNames says.
  auto whole = compile_text("rules:\n- {level: Request, resources: [{group: apps}]}\n");
  EXPECT_EQ(rule_of(*whole, http("u", {}, "POST", "/apis/apps/v1/namespaces/d/deployments")), 1u);
}

TEST(PolicyChecker, UsersAreTheAuthenticatedUserAndNeedOne) {
  auto p = compile_text(
      "rules:\n"
      "- {level: None, users: [admin]}\n"
      "- {level: None, userGroups: [system:unauthenticated]}\n"
      "- {level: Metadata}\n");
  EXPECT_EQ(rule_of(*p, http("", {}, "GET", "/api/v1/pods")), 3u);       // no user at all
  EXPECT_EQ(rule_of(*p, http("Admin", {}, "GET", "/api/v1/pods")), 3u);  // case-sensitive

  // From events: impersonatedUser is ignored; an empty user object is no user.
  DecodedAudit decoded;
  decode_audit_line(
      R"({"auditID":"a","stage":"ResponseComplete","level":"Metadata","verb":"get",)"
      R"("requestURI":"/api/v1/pods","user":{"username":"admin"},)"
      R"("impersonatedUser":{"username":"bob"},"objectRef":{"resource":"pods","apiVersion":"v1"},)"
      R"("requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z",)"
      R"("stageTimestamp":"2024-01-01T00:00:00.000000Z"})",
      &decoded);
  decode_audit_line(R"({"auditID":"b","stage":"ResponseStarted","level":"Metadata","verb":"get",)"
                    R"("requestURI":"/healthz","user":{},"responseStatus":{"code":401},)"
                    R"("requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z",)"
                    R"("stageTimestamp":"2024-01-01T00:00:00.000000Z"})",
                    &decoded);
  ASSERT_EQ(decoded.events.size(), 2u);
  std::string path;
  EXPECT_EQ(p->evaluate(attributes_from_event(decoded.events[0], &path)).rule,
            std::optional<std::size_t>(0));
  const RequestAttributes anon = attributes_from_event(decoded.events[1], &path);
  EXPECT_FALSE(anon.has_user);
  EXPECT_EQ(anon.path, "/healthz");
  EXPECT_EQ(p->evaluate(anon).rule, std::optional<std::size_t>(2));
}

TEST(PolicyChecker, EventPathIsDecodedWithoutQuery) {
  AuditEvent e;
  e.verb = "get";
  e.request_uri = "/logs/kube%20apiserver.log?tail=1";
  std::string storage;
  EXPECT_EQ(attributes_from_event(e, &storage).path, "/logs/kube apiserver.log");
  e.request_uri = "/metrics";
  EXPECT_EQ(attributes_from_event(e, &storage).path, "/metrics");
}

TEST(PolicyChecker, OmitStagesAndManagedFields) {
  auto p = compile_text(
      "omitStages: [RequestReceived]\n"
      "omitManagedFields: true\n"
      "rules:\n"
      "- {level: Request, verbs: [get], omitStages: [Panic], omitManagedFields: false}\n"
      "- {level: Metadata}\n");
  const Decision get = p->evaluate(http("u", {}, "GET", "/api/v1/pods/x").attrs());
  EXPECT_FALSE(get.keeps(Stage::kRequestReceived));
  EXPECT_FALSE(get.keeps(Stage::kPanic));
  EXPECT_TRUE(get.keeps(Stage::kResponseComplete));
  EXPECT_FALSE(get.omit_managed_fields);
  const Decision post = p->evaluate(http("u", {}, "POST", "/api/v1/pods").attrs());
  EXPECT_TRUE(post.omit_managed_fields);
  EXPECT_TRUE(post.keeps(Stage::kPanic));
  EXPECT_FALSE(post.keeps(Stage::kRequestReceived));
}

TEST(ExamplePolicies, GceRulesBehaveAsTheSpecSays) {
  auto p = compile_file("gce-audit-policy.yaml");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->rule_count(), 17u);
  const std::vector<std::string> nodes = {"system:nodes", "system:authenticated"};
  struct Case {
    OwnedRequest r;
    std::size_t rule;
    Level level;
  };
  const Case cases[] = {
      {http("system:kube-proxy", {}, "GET", "/api/v1/endpoints?watch=true"), 1, Level::kNone},
      {http("system:kube-proxy", {}, "GET", "/api/v1/endpoints"), 15, Level::kRequest},
      {http("system:unsecured", {}, "GET", "/api/v1/namespaces/kube-system/configmaps/c"), 2,
       Level::kNone},
      {http("kubelet", {}, "GET", "/api/v1/nodes/n1/status"), 3, Level::kNone},
      {http("system:node:n1", nodes, "GET", "/api/v1/nodes/n1"), 4, Level::kNone},
      {http("system:kube-scheduler", {}, "PUT", "/api/v1/namespaces/kube-system/endpoints/s"), 5,
       Level::kNone},
      {http("system:apiserver", {}, "GET", "/api/v1/namespaces/default"), 6, Level::kNone},
      {http("cluster-autoscaler", {}, "PUT", "/api/v1/namespaces/kube-system/configmaps/status"), 7,
       Level::kNone},
      {http("system:kube-controller-manager", {}, "GET", "/apis/metrics.k8s.io/v1beta1/pods"), 8,
       Level::kNone},
      {http("alice", {}, "GET", "/healthz/etcd"), 9, Level::kNone},
      {http("alice", {}, "GET", "/swagger.json"), 9, Level::kNone},
      {http("alice", {}, "POST", "/api/v1/namespaces/d/events"), 10, Level::kNone},
      {http("system:node:n1", nodes, "PATCH", "/api/v1/namespaces/d/pods/p/status"), 12,
       Level::kRequest},
      {http("kubelet", {}, "PUT", "/api/v1/nodes/n1/status"), 11, Level::kRequest},
      {http("system:serviceaccount:kube-system:namespace-controller", {}, "DELETE",
            "/apis/apps/v1/namespaces/gone/deployments"),
       13, Level::kRequest},
      {http("alice", {}, "GET", "/api/v1/namespaces/d/secrets/s"), 14, Level::kMetadata},
      {http("alice", {}, "POST", "/api/v1/namespaces/d/serviceaccounts/default/token"), 14,
       Level::kMetadata},
      {http("alice", {}, "POST", "/apis/authentication.k8s.io/v1/tokenreviews"), 14,
       Level::kMetadata},
      {http("alice", {}, "GET", "/apis/apps/v1/namespaces/d/deployments"), 15, Level::kRequest},
      {http("alice", {}, "PATCH", "/apis/apps/v1/namespaces/d/deployments/x"), 16,
       Level::kRequestResponse},
      {http("alice", {}, "DELETE", "/api/v1/namespaces/d/pods/p"), 16, Level::kRequestResponse},
      {http("alice", {}, "POST", "/apis/example.com/v1/namespaces/d/widgets"), 17,
       Level::kMetadata},
      {http("alice", {}, "GET", "/metrics"), 17, Level::kMetadata},
  };
  for (const Case& c : cases) {
    const Decision d = p->evaluate(c.r.attrs());
    const std::string at =
        c.r.user + " " + c.r.verb + " " + c.r.resource + "/" + c.r.subresource + " " + c.r.path;
    EXPECT_EQ(d.rule ? *d.rule + 1 : 0, c.rule) << at;
    EXPECT_EQ(d.level, c.level) << at;
    if (c.rule >= 11) {
      EXPECT_FALSE(d.keeps(Stage::kRequestReceived)) << at;
      EXPECT_TRUE(d.keeps(Stage::kResponseComplete)) << at;
    }
  }
}

TEST(ExamplePolicies, KubernetesIoExampleBehavesAsTheSpecSays) {
  auto p = compile_file("kubernetes-io-example.yaml");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->rule_count(), 9u);
  const std::vector<std::string> authed = {"system:authenticated"};
  struct Case {
    OwnedRequest r;
    std::size_t rule;
  };
  const Case cases[] = {
      {http("u", authed, "PUT", "/api/v1/namespaces/d/pods/p"), 1},
      {http("u", authed, "GET", "/api/v1/namespaces/d/pods/p/log"), 2},
      {http("u", authed, "PUT", "/api/v1/namespaces/d/pods/p/status"), 2},
      {http("u", authed, "GET", "/api/v1/namespaces/d/pods/p/exec"), 8},
      {http("u", authed, "PUT", "/api/v1/namespaces/kube-system/configmaps/controller-leader"), 3},
      {http("system:kube-proxy", authed, "GET", "/api/v1/services?watch=true"), 4},
      {http("u", authed, "GET", "/apis/apps/v1"), 5},
      {http("u", authed, "GET", "/version"), 5},
      {http("u", {}, "GET", "/version"), 9},
      {http("u", authed, "GET", "/api/v1/namespaces/kube-system/configmaps/c"), 6},
      {http("u", authed, "GET", "/api/v1/namespaces/d/configmaps/c"), 7},
      {http("u", authed, "GET", "/api/v1/namespaces/kube-system/secrets/s"), 7},
      {http("u", authed, "GET", "/apis/extensions/v1beta1/namespaces/d/ingresses"), 8},
      {http("u", authed, "GET", "/apis/apps/v1/namespaces/d/deployments"), 9},
  };
  for (const Case& c : cases) {
    const Decision d = p->evaluate(c.r.attrs());
    EXPECT_EQ(d.rule ? *d.rule + 1 : 0, c.rule) << c.r.verb << " " << c.r.path;
    EXPECT_FALSE(d.keeps(Stage::kRequestReceived)) << c.r.path;  // policy-wide omitStages
  }
}

}  // namespace
}  // namespace ktrail::policy

namespace ktrail::policy {
namespace {

// kube-apiserver decides once per request, from the URL: a create has no name then, even
// though the ResponseComplete event reports the created object's name. Every stage of the
// request gets the same decision.
TEST(PolicyChecker, CreateEventsAreJudgedByTheUrlLikeTheApiserverDid) {
  auto loaded = parse_policy(
      "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
      "- {level: None, resources: [{resources: [configmaps], resourceNames: [leader]}]}\n"
      "- {level: Metadata}\n",
      "t.yaml");
  ASSERT_TRUE(loaded.ok());
  auto p = compile_or_null(loaded.policy);
  ASSERT_NE(p, nullptr);
  auto event = [](const std::string& verb, const std::string& uri, const std::string& name) {
    AuditEvent e;
    e.verb = verb;
    e.request_uri = uri;
    e.user.username = "u";
    ObjectRef r;
    r.resource = "configmaps";
    r.namespace_ = "k";
    r.name = name;
    e.object_ref = r;
    return e;
  };
  std::string path;
  const AuditEvent created = event("create", "/api/v1/namespaces/k/configmaps", "leader");
  EXPECT_EQ(p->evaluate(attributes_from_event(created, &path)).rule, std::optional<std::size_t>(1));
  const AuditEvent updated = event("update", "/api/v1/namespaces/k/configmaps/leader", "leader");
  EXPECT_EQ(p->evaluate(attributes_from_event(updated, &path)).rule, std::optional<std::size_t>(0));
  // A create whose URL is escaped: kube-apiserver decoded it (no name in a create URL).
  const AuditEvent escaped = event("create", "/api/v1/namespaces/%6B/configmaps", "leader");
  const RequestAttributes ea = attributes_from_event(escaped, &path);
  EXPECT_EQ(ea.namespace_, "k");
  EXPECT_EQ(ea.name, "");
  // An update of a cluster-scoped object whose body claims a namespace: kube-apiserver decided
  // on the URL's (none).
  const AuditEvent cluster = event("update", "/api/v1/nodes/n1", "n1");
  const RequestAttributes ca = attributes_from_event(cluster, &path);
  EXPECT_EQ(ca.namespace_, "");
  EXPECT_EQ(ca.name, "n1");

  std::string_view ns, name;
  std::string storage;
  ASSERT_TRUE(url_scope("/api/v1/namespaces/d/pods/p1/eviction", &storage, &ns, &name));
  EXPECT_EQ(ns, "d");
  EXPECT_EQ(name, "p1");
  ASSERT_TRUE(url_scope("/apis/authentication.k8s.io/v1/tokenreviews?x=1", &storage, &ns, &name));
  EXPECT_EQ(ns, "");
  EXPECT_EQ(name, "");
  ASSERT_TRUE(url_scope("/api/v1/namespaces", &storage, &ns, &name));
  EXPECT_EQ(name, "");
  ASSERT_TRUE(url_scope("/api/v1/namespaces/foo/finalize", &storage, &ns, &name));
  EXPECT_EQ(ns, "foo");
  EXPECT_EQ(name, "foo");
  EXPECT_FALSE(url_scope("/healthz", &storage, &ns, &name));
  EXPECT_FALSE(url_scope("/apis/v1/pods", &storage, &ns, &name));
  // Escapes are decoded before the path is split, as kube-apiserver does.
  ASSERT_TRUE(url_scope("/api/v1/namespaces/k%2Fx/pods/%41b", &storage, &ns, &name));
  EXPECT_EQ(ns, "k");
  EXPECT_EQ(name, "pods");
  ASSERT_TRUE(url_scope("/api/v1/namespaces/k%20x/pods/%41b", &storage, &ns, &name));
  EXPECT_EQ(ns, "k x");
  EXPECT_EQ(name, "Ab");
  EXPECT_FALSE(url_scope("/api/v1/namespaces/k/pods/%4", &storage, &ns, &name));
  // Agrees with the full derivation on every request-info vector sent as a create.
  for (const auto& c : vectors()["request_info_cases"].GetArray()) {
    const std::string url = c["url"].GetString();
    const RequestInfo info = derive_request_info("POST", url);
    if (!info.is_resource_request || info.verb != "create") {
      continue;
    }
    ASSERT_TRUE(url_scope(url, &storage, &ns, &name)) << url;
    EXPECT_EQ(ns, info.namespace_) << url;
    EXPECT_EQ(name, info.name) << url;
  }
}

}  // namespace
}  // namespace ktrail::policy
