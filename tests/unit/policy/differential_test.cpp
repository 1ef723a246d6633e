// The compiled checker against the reference transcription of the algorithm, over many
// generated requests and policies built from the same small vocabulary (so that matches,
// near-misses, wildcards and empty strings all occur).
#include <gtest/gtest.h>

#include <random>

#include "tests/unit/policy/reference_checker.h"
#include "tests/unit/policy/vectors.h"

namespace ktrail::policy {
namespace {

using namespace ktrail::policy::testing;

template <typename T>
const T& pick(std::mt19937& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}

std::vector<std::string> some(std::mt19937& rng, const std::vector<std::string>& vocab) {
  std::vector<std::string> out;
  const int n = std::uniform_int_distribution<int>(0, 3)(rng) == 0
                    ? std::uniform_int_distribution<int>(1, 3)(rng)
                    : 0;
  for (int i = 0; i < n; ++i) {
    out.push_back(pick(rng, vocab));
  }
  return out;
}

TEST(PolicyDifferential, CompiledAgreesWithReference) {
  std::mt19937 rng(20240501);
  const std::vector<std::string> users = {"alice", "bob", "*", "", "system:kube-proxy"};
  const std::vector<std::string> groups = {"devs", "system:nodes", "*", ""};
  const std::vector<std::string> verbs = {"get", "list", "watch", "create", "update", "*", ""};
  const std::vector<std::string> namespaces = {"", "default", "kube-system", "*"};
  const std::vector<std::string> api_groups = {"", "apps", "*", "rbac.authorization.k8s.io"};
  const std::vector<std::string> resources = {
      "pods",        "pods/log",          "pods/*", "*/log",   "*",  "*/*",
      "deployments", "deployments/scale", "*//log", "pods//*", "log"};
  const std::vector<std::string> names = {"", "a", "b", "*"};
  const std::vector<std::string> urls = {"*",       "/healthz", "/healthz*", "/api*",
                                         "/logs/*", "/",        "/**"};
  const std::vector<std::string> req_resources = {"pods", "deployments", "log", ""};
  const std::vector<std::string> req_subs = {"", "log", "scale", "status"};
  const std::vector<std::string> paths = {"/healthz", "/healthzX", "/logs", "/logs/x",
                                          "/api",     "/",         "",      "/apis/apps/v1"};
  std::size_t matched = 0, checked = 0;
  for (int round = 0; round < 300; ++round) {
    Policy p;
    const int n = std::uniform_int_distribution<int>(1, 6)(rng);
    for (int i = 0; i < n; ++i) {
      PolicyRule r;
      r.level = "Metadata";
      r.users = some(rng, users);
      r.user_groups = some(rng, groups);
      r.verbs = some(rng, verbs);
      const int kind = std::uniform_int_distribution<int>(0, 2)(rng);
      if (kind == 1) {
        r.namespaces = some(rng, namespaces);
        const int ng = std::uniform_int_distribution<int>(0, 2)(rng);
        for (int g = 0; g < ng; ++g) {
          GroupResources gr;
          gr.group = pick(rng, api_groups);
          gr.resources = some(rng, resources);
          if (!gr.resources.empty()) {
            gr.resource_names = some(rng, names);
          }
          r.resources.push_back(gr);
        }
      } else if (kind == 2) {
        r.non_resource_urls = some(rng, urls);
      }
      p.rules.push_back(r);
    }
    auto compiled = compile_or_null(p);
    ASSERT_NE(compiled, nullptr);
    for (int k = 0; k < 200; ++k) {
      OwnedRequest q;
      q.has_user = std::uniform_int_distribution<int>(0, 5)(rng) != 0;
      q.user = pick(rng, users);
      q.groups = some(rng, groups);
      q.verb = pick(rng, verbs);
      q.is_resource = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
      q.ns = pick(rng, namespaces);
      q.group = pick(rng, api_groups);
      q.resource = pick(rng, req_resources);
      q.subresource = pick(rng, req_subs);
      q.name = pick(rng, names);
      q.path = pick(rng, paths);
      const RequestAttributes a = q.attrs();
      const int want = reference_first_match(p, a);
      const Decision d = compiled->evaluate(a);
      const int got = d.rule ? static_cast<int>(*d.rule) : -1;
      ASSERT_EQ(got, want) << "round " << round << " request " << q.verb << " " << q.group << "/"
                           << q.resource << "/" << q.subresource << " " << q.path;
      matched += want >= 0 ? 1 : 0;
      ++checked;
    }
  }
  // The generator must exercise both outcomes.
  EXPECT_GT(matched, checked / 10);
  EXPECT_LT(matched, checked - checked / 10);
}

}  // namespace
}  // namespace ktrail::policy
