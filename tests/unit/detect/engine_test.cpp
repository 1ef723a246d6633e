// The condition language on crafted events: each operator, list and macro expansion, missing
// fields, evaluation errors, exceptions and output formatting.
#include <gtest/gtest.h>

#include "tests/unit/detect/detect_test_util.h"

namespace ktrail::detect {
namespace {

using testing::engine_of;
using testing::event_of;
using testing::matching;

const char* kPod = R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse",
"auditID":"a-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/pods?dryRun=All&x=1",
"verb":"create","user":{"username":"alice","groups":["dev","system:authenticated"]},
"impersonatedUser":{"username":"bob"},
"sourceIPs":["203.0.113.9","10.0.0.1"],"userAgent":"kubectl/v1.30",
"objectRef":{"resource":"pods","namespace":"prod","name":"web-1","apiVersion":"v1"},
"responseStatus":{"code":201},
"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: ok"},
"requestObject":{"kind":"Pod","spec":{"hostNetwork":true,"containers":[
 {"name":"a","image":"docker.io/library/nginx:1.25","securityContext":{"privileged":true,"capabilities":{"add":["NET_ADMIN","SYS_TIME"]}}},
 {"name":"b","image":"registry:5000/team/app@sha256:abc"}],
 "volumes":[{"name":"x","emptyDir":{}},{"name":"h","hostPath":{"path":"/var/run/docker.sock"}}]}},
"responseObject":{"metadata":{"name":"web-1"}},
"requestReceivedTimestamp":"2026-03-01T12:00:00.000000Z","stageTimestamp":"2026-03-01T12:00:00.100000Z"})";

// One rule per condition; returns whether it matched kPod.
bool fires(const std::string& condition, const std::string& extra = "") {
  Diagnostics d;
  auto engine = engine_of(extra + "\n- rule: r\n  desc: d\n  condition: " + condition +
                              "\n  output: o\n  priority: INFO\n  source: k8s_audit\n",
                          &d);
  EXPECT_NE(engine, nullptr) << condition << "\n" << testing::all_messages(d);
  if (!engine) {
    return false;
  }
  return !matching(*engine, event_of(kPod)).empty();
}

TEST(DetectEngine, ComparisonOperators) {
  EXPECT_TRUE(fires("ka.verb=create"));
  EXPECT_TRUE(fires("ka.verb==create"));
  EXPECT_FALSE(fires("ka.verb=get"));
  EXPECT_TRUE(fires("ka.verb!=get"));
  EXPECT_TRUE(fires("ka.user.name startswith al"));
  EXPECT_TRUE(fires("ka.user.name endswith ice"));
  EXPECT_TRUE(fires("ka.uri contains dryRun"));
  EXPECT_TRUE(fires("ka.useragent icontains KUBECTL"));
  EXPECT_FALSE(fires("ka.useragent contains KUBECTL"));
  EXPECT_TRUE(fires("ka.uri glob '/api/v1/namespaces/*/pods*'"));
  EXPECT_TRUE(fires("ka.useragent iglob 'KUBE*'"));
  EXPECT_TRUE(fires("ka.sourceips glob '203.0.113.[0-9]'"));
  EXPECT_TRUE(fires("ka.sourceips glob '10.0.0.?'"));
  EXPECT_FALSE(fires("ka.sourceips glob '172.1[6-9].*'"));
  EXPECT_TRUE(fires("ka.user.name glob '[!b]*e'"));
  EXPECT_FALSE(fires("ka.user.name glob '[!a]*'"));
  EXPECT_TRUE(fires("ka.uri glob '*dryRun=All*'"));
  EXPECT_FALSE(fires("ka.uri glob '*dryRun=None*'"));
  EXPECT_TRUE(fires("ka.response.code >= 200 and ka.response.code < 300"));
  EXPECT_FALSE(fires("ka.response.code > 201"));
  EXPECT_TRUE(fires("ka.response.code <= 201"));
  EXPECT_TRUE(fires("ka.verb in (get, create)"));
  EXPECT_FALSE(fires("ka.verb in (get, list)"));
  EXPECT_TRUE(fires("ka.impuser.name=bob"));
  EXPECT_TRUE(fires("ka.auth.decision=allow and ka.auth.reason startswith \"RBAC:\""));
  EXPECT_TRUE(fires("ka.resp.name=web-1"));
  EXPECT_TRUE(fires("ka.uri.param[dryRun]=All"));
  EXPECT_FALSE(fires("ka.uri.param[other] exists"));
}

TEST(DetectEngine, ListFields) {
  EXPECT_TRUE(fires("ka.user.groups intersects (dev)"));
  EXPECT_FALSE(fires("ka.user.groups in (dev)"));  // in: every value must be in the set
  EXPECT_TRUE(fires("ka.user.groups in (dev, system:authenticated, other)"));
  EXPECT_TRUE(fires("ka.sourceips intersects (10.0.0.1)"));
  EXPECT_TRUE(fires("ka.req.pod.containers.privileged intersects (true)"));
  EXPECT_TRUE(fires("ka.req.pod.containers.image.repository in (docker.io/library/nginx, "
                    "registry:5000/team/app)"));
  EXPECT_TRUE(fires("ka.req.pod.containers.image[1] startswith registry"));
  EXPECT_TRUE(fires("ka.req.pod.volumes.hostpath intersects (/var/run/docker.sock)"));
  EXPECT_TRUE(fires("ka.req.pod.volumes.hostpath pmatch (/var/run)"));
  EXPECT_FALSE(fires("ka.req.pod.volumes.hostpath pmatch (/var/ru)"));
  EXPECT_TRUE(fires("ka.req.pod.containers.add_capabilities intersects (SYS_TIME)"));
  EXPECT_TRUE(fires("ka.req.pod.host_network=true"));
  EXPECT_TRUE(fires("ka.req.pod.volumes.volume_type intersects (hostPath)"));
  EXPECT_TRUE(fires("ka.req.volume.hostpath[/var/run*]=true"));
}

TEST(DetectEngine, JsonPointerAndMissingFields) {
  EXPECT_TRUE(fires("jevt.value[/stage]=ResponseComplete"));
  EXPECT_TRUE(fires("jevt.value[/requestObject/spec/containers/1/name]=b"));
  EXPECT_TRUE(fires("jevt.value[/responseStatus/code]=201"));
  EXPECT_TRUE(fires("jevt.rawtime exists"));
  EXPECT_FALSE(fires("jevt.rawtime=0"));
  // A field the event lacks makes any comparison false, and `not` of it true.
  EXPECT_FALSE(fires("ka.target.subresource=exec"));
  EXPECT_FALSE(fires("ka.target.subresource!=exec"));
  EXPECT_TRUE(fires("not ka.target.subresource exists"));
  EXPECT_FALSE(fires("jevt.value[/requestObject/spec/tls] exists"));
  EXPECT_FALSE(fires("ka.req.binding.role=cluster-admin"));
}

TEST(DetectEngine, PrecedenceMacrosAndLists) {
  EXPECT_TRUE(fires("ka.verb=get or ka.verb=create and ka.user.name=alice"));
  EXPECT_FALSE(fires("(ka.verb=get or ka.verb=create) and ka.user.name=carol"));
  EXPECT_TRUE(fires("not ka.verb=get and not (ka.user.name=carol)"));
  const std::string defs =
      "- list: inner\n  items: [create]\n- list: verbs\n  items: [get, inner]\n"
      "- macro: m\n  condition: ka.verb in (verbs)\n- macro: n\n  condition: m and ka.user.name=alice\n";
  EXPECT_TRUE(fires("n", defs));
  EXPECT_TRUE(fires("ka.verb in (\"get\", verbs)", defs));
  EXPECT_FALSE(fires("ka.verb in ('verbs')", defs));  // quoted: a literal, not the list
}

TEST(DetectEngine, RulesOutsideTheEventsVerbOrResourceAreSkippedWithTheSameResult) {
  Diagnostics d;
  auto engine = engine_of(
      "- macro: w\n  condition: ka.verb in (create, update)\n"
      "- rule: a\n  desc: d\n  condition: w and ka.target.resource=pods\n  output: o\n"
      "  priority: INFO\n  source: k8s_audit\n"
      "- rule: b\n  desc: d\n  condition: ka.verb=get or ka.target.resource=pods\n  output: o\n"
      "  priority: INFO\n  source: k8s_audit\n"
      "- rule: c\n  desc: d\n  condition: (ka.verb=get or ka.verb=delete) and ka.user.name=alice\n"
      "  output: o\n  priority: INFO\n  source: k8s_audit\n",
      &d);
  ASSERT_NE(engine, nullptr) << testing::all_messages(d);
  const auto& rules = engine->rules();
  EXPECT_EQ(rules[0].verbs, (std::vector<std::string>{"create", "update"}));
  EXPECT_EQ(rules[0].resources, std::vector<std::string>{"pods"});
  EXPECT_TRUE(rules[1].any_verb);
  EXPECT_EQ(rules[2].verbs, (std::vector<std::string>{"delete", "get"}));
  EXPECT_EQ(matching(*engine, event_of(kPod)), (std::vector<std::string>{"a", "b"}));
}

TEST(DetectEngine, EvaluationErrorDoesNotMatchAndIsCounted) {
  Diagnostics d;
  auto engine = engine_of(
      "- rule: numeric on text\n  desc: d\n  condition: ka.user.name > 3\n  output: o\n"
      "  priority: INFO\n  source: k8s_audit\n"
      "- rule: negated\n  desc: d\n  condition: not ka.user.name > 3\n  output: o\n"
      "  priority: INFO\n  source: k8s_audit\n"
      "- rule: fine\n  desc: d\n  condition: ka.verb=create\n  output: o\n  priority: INFO\n"
      "  source: k8s_audit\n",
      &d);
  ASSERT_NE(engine, nullptr) << testing::all_messages(d);
  bool warned = false;
  for (const auto& i : d.items) {
    warned = warned || (!i.error && i.message.find("the field is text") != std::string::npos);
  }
  EXPECT_TRUE(warned) << testing::all_messages(d);
  EXPECT_EQ(matching(*engine, event_of(kPod)), std::vector<std::string>{"fine"});
  EXPECT_EQ(engine->evaluation_errors(), 2u);
}

TEST(DetectEngine, ExceptionsExcludeMatches) {
  const std::string base =
      "- rule: r\n  desc: d\n  condition: ka.verb=create\n  output: o\n  priority: INFO\n"
      "  source: k8s_audit\n  exceptions:\n";
  auto loads = [&](const std::string& ex) {
    Diagnostics d;
    auto e = engine_of(base + ex, &d);
    EXPECT_NE(e, nullptr) << testing::all_messages(d);
    return e ? !matching(*e, event_of(kPod)).empty() : false;
  };
  EXPECT_FALSE(loads("  - name: by_user\n    fields: [ka.user.name, ka.target.namespace]\n"
                     "    values: [[alice, prod]]\n"));
  EXPECT_TRUE(loads("  - name: by_user\n    fields: [ka.user.name, ka.target.namespace]\n"
                    "    values: [[alice, dev]]\n"));
  EXPECT_FALSE(loads("  - name: ns\n    fields: ka.target.namespace\n    comps: in\n"
                     "    values: [[dev, prod]]\n"));
  EXPECT_TRUE(loads("  - name: unused\n    fields: [ka.user.name]\n"));
}

TEST(DetectEngine, OutputSubstitution) {
  Diagnostics d;
  auto engine = engine_of(
      "- rule: r\n  desc: d\n  condition: ka.verb=create\n  priority: warning\n"
      "  source: k8s_audit\n  tags: [a, b]\n  output: >\n    user=%ka.user.name target=%ka.target.name/%ka.target.resource\n"
      "    groups=%ka.user.groups missing=%ka.target.subresource code=%jevt.value[/responseStatus/code] 100%\n",
      &d);
  ASSERT_NE(engine, nullptr) << testing::all_messages(d);
  const AuditEvent e = event_of(kPod);
  ASSERT_EQ(engine->rules().size(), 1u);
  EXPECT_EQ(engine->format_output(engine->rules()[0], e),
            "user=alice target=web-1/pods groups=(dev,system:authenticated) missing=<NA> code=201 "
            "100%");
  Finding f = engine->make_finding(engine->rules()[0], e);
  EXPECT_EQ(f.priority, "WARNING");
  EXPECT_EQ(f.impersonated_user, "bob");
  EXPECT_EQ(f.namespace_, "prod");
  EXPECT_EQ(f.tags, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace ktrail::detect
