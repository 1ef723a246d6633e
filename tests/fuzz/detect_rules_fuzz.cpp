// The Falco rules loader and the compiled conditions: whatever the bytes, loading gives rules or
// diagnostics without a sanitizer report, and rules that compile are evaluated on a few audit
// events (with their outputs formatted) without one. The public entry point
// ktrail::detect::fuzz_load_rules must agree with the loader used here.
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "core/audit_json.h"
#include "detect/engine.h"
#include "detect/rules_file.h"

namespace {

// Events of different shapes: a privileged pod create with a request object, an exec by an
// impersonating user from a public address, a denied secret list with no objectRef name.
constexpr std::string_view kEvents = R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods?dryRun=All","verb":"create","user":{"username":"alice","groups":["system:authenticated","dev"]},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl/v1.37","objectRef":{"resource":"pods","namespace":"default","name":"p","apiVersion":"v1"},"responseStatus":{"code":201},"requestObject":{"kind":"Pod","metadata":{"name":"p","annotations":{"a":"b"}},"spec":{"hostNetwork":true,"volumes":[{"hostPath":{"path":"/etc"}}],"containers":[{"name":"c","image":"nginx","securityContext":{"privileged":true,"capabilities":{"add":["SYS_ADMIN"]}}}]}},"requestReceivedTimestamp":"2026-01-01T00:00:00.000000Z","stageTimestamp":"2026-01-01T00:00:00.100000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}},
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a2","stage":"ResponseStarted","requestURI":"/api/v1/namespaces/kube-system/pods/x/exec?command=sh&stdin=true","verb":"create","user":{"username":"system:admin","groups":["system:masters"]},"impersonatedUser":{"username":"bob","groups":["g"]},"sourceIPs":["8.8.8.8","10.0.0.2"],"objectRef":{"resource":"pods","subresource":"exec","namespace":"kube-system","name":"x"},"responseStatus":{"code":101},"requestReceivedTimestamp":"2026-01-01T00:00:01Z","stageTimestamp":"2026-01-01T00:00:01Z"},
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a3","stage":"ResponseComplete","requestURI":"/api/v1/secrets","verb":"list","user":{"username":"system:anonymous"},"sourceIPs":["::1"],"objectRef":{"resource":"secrets"},"responseStatus":{"code":403,"reason":"Forbidden"},"requestReceivedTimestamp":"2026-01-01T00:00:02Z","stageTimestamp":"2026-01-01T00:00:02Z","annotations":{"authorization.k8s.io/decision":"forbid"}}
]})";

const std::vector<ktrail::AuditEvent>& events() {
  static const std::vector<ktrail::AuditEvent> decoded = [] {
    auto d = ktrail::decode_audit_document(kEvents);
    if (!d.is_ok() || d->events.size() != 3) {
      std::fprintf(stderr, "the fuzz target's sample events do not decode\n");
      std::abort();
    }
    return d->events;
  }();
  return decoded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ktrail::detect::RuleSet set;
  ktrail::detect::Diagnostics diags;
  ktrail::detect::load_rules_text(text, "fuzz.yaml", &set, &diags);
  std::unique_ptr<ktrail::detect::Engine> engine;
  if (!diags.has_errors()) engine = ktrail::detect::Engine::compile(set, &diags);
  if ((engine != nullptr) != ktrail::detect::fuzz_load_rules(text.data(), text.size())) {
    std::fprintf(stderr, "fuzz_load_rules and the loader disagree\n");
    std::abort();
  }
  if (engine == nullptr) return 0;
  std::vector<const ktrail::detect::CompiledRule*> matches;
  for (const ktrail::AuditEvent& event : events()) {
    matches.clear();
    engine->evaluate(event, &matches);
    for (const auto* rule : matches) (void)engine->format_output(*rule, event);
  }
  return 0;
}
