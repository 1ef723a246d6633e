#include "ingest/managed_gke.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/time.h"
#include "ingest/managed_ids.h"

namespace ktrail::ingest {
namespace {

using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

const Value* member(const Value& obj, const char* key) {
  if (!obj.IsObject()) {
    return nullptr;
  }
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = text.find(sep, start);
    parts.push_back(text.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) {
      return parts;
    }
    start = at + 1;
  }
}

// The target of a request, from a resourceName such as
// "core/v1/namespaces/default/pods/web-0/exec" or "apps/v1/deployments" (GKE writes the API
// group, "core" for the core group, then the version, then the path below it).
struct Target {
  bool parsed = false;
  std::string_view group, version, ns, resource, name, subresource;
};

Target parse_resource_name(std::string_view resource_name) {
  Target t;
  const auto p = split(resource_name, '/');
  if (p.size() < 3 || p[0].empty() || p[1].empty() || p[2].empty()) {
    return t;
  }
  t.group = p[0] == "core" ? std::string_view() : p[0];
  t.version = p[1];
  std::size_t i = 2;
  // "namespaces/NS/RESOURCE..." names a namespaced resource, except for the Namespace object
  // itself and its own subresources ("namespaces/NS", "namespaces/NS/status", ".../finalize").
  if (p[2] == "namespaces" && p.size() >= 5 && p[4] != "status" && p[4] != "finalize") {
    t.ns = p[3];
    i = 4;
  }
  t.resource = p[i];
  if (p.size() > i + 1) {
    t.name = p[i + 1];
  }
  if (p.size() > i + 2) {
    t.subresource = p[i + 2];
  }
  t.parsed = !t.resource.empty();
  return t;
}

std::string request_uri(const Target& t, std::string_view resource_name) {
  if (!t.parsed) {
    return "/" + std::string(resource_name);
  }
  std::string uri = t.group.empty() ? "/api/" : "/apis/" + std::string(t.group) + "/";
  uri += t.version;
  if (!t.ns.empty()) {
    uri += "/namespaces/";
    uri += t.ns;
  }
  for (std::string_view part : {t.resource, t.name, t.subresource}) {
    if (!part.empty()) {
      uri += '/';
      uri += part;
    }
  }
  return uri;
}

void put(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put_if(Writer& w, const char* key, std::string_view value) {
  if (!value.empty()) {
    put(w, key, value);
  }
}

Result<std::string> event_time(const Value& entry) {
  for (const char* key : {"timestamp", "receiveTimestamp"}) {
    const std::string_view text = json::get_string(entry, key);
    if (text.empty()) {
      continue;
    }
    auto t = parse_rfc3339(text);
    if (!t) {
      return invalid_argument(std::string("GKE entry: bad '") + key + "': " + t.status().message());
    }
    return format_rfc3339(*t);
  }
  return invalid_argument("GKE entry: no 'timestamp' nor 'receiveTimestamp'");
}

// The authorization decision when the entry's labels do not state it: allowed only if every
// check the entry lists was granted.
std::string_view decision_of(const Value& payload) {
  const Value* info = member(payload, "authorizationInfo");
  if (info == nullptr || !info->IsArray() || info->Empty()) {
    return {};
  }
  for (const auto& check : info->GetArray()) {
    const Value* granted = member(check, "granted");
    if (granted == nullptr || !granted->IsBool() || !granted->GetBool()) {
      return "forbid";
    }
  }
  return "allow";
}

}  // namespace

int http_status_of_rpc_code(int code) {
  // google.rpc.Code and the HTTP status Google's APIs answer with for each.
  static constexpr int kHttp[] = {200, 499, 500, 400, 504, 404, 409, 403, 429,
                                  400, 409, 400, 501, 500, 503, 500, 401};
  if (code < 0 || code > 16) {
    return 500;
  }
  return kHttp[code];
}

Status convert_gke_entry(const Value& entry, std::string* out) {
  const Value* payload = member(entry, "protoPayload");
  if (payload == nullptr || !payload->IsObject()) {
    return invalid_argument("GKE entry: no 'protoPayload' object");
  }
  const std::string_view service = json::get_string(*payload, "serviceName");
  if (service != "k8s.io") {
    return invalid_argument("GKE entry: service '" + std::string(service) +
                            "' is not Kubernetes (k8s.io)");
  }
  const std::string_view method = json::get_string(*payload, "methodName");
  const std::size_t dot = method.rfind('.');
  const std::string_view verb = dot == std::string_view::npos ? method : method.substr(dot + 1);
  if (verb.empty()) {
    return invalid_argument("GKE entry: no verb in 'methodName'");
  }
  auto when = event_time(entry);
  if (!when) {
    return when.status();
  }

  const Value empty(rapidjson::kObjectType);
  const Value* auth = member(*payload, "authenticationInfo");
  const Value* meta = member(*payload, "requestMetadata");
  const Value* status = member(*payload, "status");
  const Value* request = member(*payload, "request");
  const Value* response = member(*payload, "response");
  const Value* labels = member(entry, "labels");
  const Value* operation = member(entry, "operation");
  if (auth == nullptr) auth = &empty;
  if (meta == nullptr) meta = &empty;
  if (operation == nullptr) operation = &empty;

  const std::string_view resource_name = json::get_string(*payload, "resourceName");
  const Target target = parse_resource_name(resource_name);

  // Unique per log entry and stable across exports: two entries of one long request (its first
  // and last) stay two events. The operation id that ties them is kept as an annotation.
  std::string audit_id(json::get_string(entry, "insertId"));
  const std::string_view operation_id = json::get_string(*operation, "id");
  if (audit_id.empty()) {
    audit_id = operation_id.empty() ? derived_audit_id(json::to_compact(entry))
                                    : std::string(operation_id);
  }
  const Value* first = member(*operation, "first");
  const Value* last = member(*operation, "last");
  const bool started_only = first != nullptr && first->IsBool() && first->GetBool() &&
                            (last == nullptr || !last->IsBool() || !last->GetBool());

  int code = 0;
  std::string_view message;
  if (status != nullptr && status->IsObject()) {
    const Value* c = member(*status, "code");
    if (c != nullptr && c->IsInt()) {
      code = c->GetInt();
    }
    message = json::get_string(*status, "message");
  }
  // An exec, attach or port-forward that succeeded opened a stream: the apiserver logs that as
  // a 101 at ResponseStarted, and detections of sessions look for it there.
  const bool stream = verb == "create" && (target.subresource == "exec" ||
                                           target.subresource == "attach" ||
                                           target.subresource == "portforward");
  int http = http_status_of_rpc_code(code);
  if (code == 0 && verb == "create") {
    http = stream ? 101 : 201;
  }
  const bool started = started_only || (stream && code == 0);

  std::string_view user = json::get_string(*auth, "principalEmail");
  if (user.empty()) {
    user = json::get_string(*auth, "principalSubject");
  }
  std::string_view caller_ip = json::get_string(*meta, "callerIp");
  if (caller_ip.empty()) {
    caller_ip = json::get_string(*meta, "callerIP");
  }

  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  put(w, "kind", "Event");
  put(w, "apiVersion", "audit.k8s.io/v1");
  put(w, "level", response != nullptr ? "RequestResponse" : request != nullptr ? "Request" : "Metadata");
  put(w, "auditID", audit_id);
  put(w, "stage", started ? "ResponseStarted" : "ResponseComplete");
  put(w, "requestURI", request_uri(target, resource_name));
  put(w, "verb", verb);
  w.Key("user");
  w.StartObject();
  put(w, "username", user);
  w.EndObject();
  w.Key("sourceIPs");
  w.StartArray();
  if (!caller_ip.empty()) {
    w.String(caller_ip.data(), static_cast<rapidjson::SizeType>(caller_ip.size()));
  }
  w.EndArray();
  put_if(w, "userAgent", json::get_string(*meta, "callerSuppliedUserAgent"));
  if (target.parsed) {
    w.Key("objectRef");
    w.StartObject();
    put(w, "resource", target.resource);
    put_if(w, "namespace", target.ns);
    put_if(w, "name", target.name);
    put(w, "apiGroup", target.group);
    put(w, "apiVersion", target.version);
    put_if(w, "subresource", target.subresource);
    w.EndObject();
  }
  w.Key("responseStatus");
  w.StartObject();
  w.Key("metadata");
  w.StartObject();
  w.EndObject();
  if (http >= 400) {
    put(w, "status", "Failure");
  }
  put_if(w, "message", message);
  w.Key("code");
  w.Int(http);
  w.EndObject();
  if (request != nullptr) {
    w.Key("requestObject");
    request->Accept(w);
  }
  if (response != nullptr) {
    w.Key("responseObject");
    response->Accept(w);
  }
  put(w, "requestReceivedTimestamp", *when);
  put(w, "stageTimestamp", *when);
  w.Key("annotations");
  w.StartObject();
  bool has_decision = false;
  if (labels != nullptr && labels->IsObject()) {
    for (const auto& m : labels->GetObject()) {
      const std::string_view key(m.name.GetString(), m.name.GetStringLength());
      if (m.value.IsString() && key != "gke.ktrail.io/operation-id") {
        w.Key(m.name.GetString(), m.name.GetStringLength());
        w.String(m.value.GetString(), m.value.GetStringLength());
        has_decision = has_decision || key == "authorization.k8s.io/decision";
      }
    }
  }
  const std::string_view decision = decision_of(*payload);
  if (!has_decision && !decision.empty()) {
    put(w, "authorization.k8s.io/decision", decision);
  }
  if (!operation_id.empty()) {
    put(w, "gke.ktrail.io/operation-id", operation_id);
  }
  w.EndObject();
  w.EndObject();
  out->assign(buf.GetString(), buf.GetSize());
  return Status::ok();
}

}  // namespace ktrail::ingest
