// An audit.k8s.io Event (v1, or v1beta1 from older clusters) as ktrail carries it through the
// pipeline: the fields that policy, correlation and queries look at, decoded once, plus the
// full event as compact JSON. Processors that change the event (policy levels, redaction,
// truncation) rewrite `json` and keep the decoded fields in step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace ktrail {

enum class Stage : std::uint8_t { kRequestReceived, kResponseStarted, kResponseComplete, kPanic };

// Ordered as kube-apiserver orders them: None < Metadata < Request < RequestResponse.
enum class Level : std::uint8_t { kNone, kMetadata, kRequest, kRequestResponse };

const char* to_string(Stage stage);
const char* to_string(Level level);
std::optional<Stage> parse_stage(std::string_view text);
// Unknown strings rank as None, as in kube-apiserver; `known` tells whether it was one of the four.
Level parse_level(std::string_view text, bool* known = nullptr);

struct UserInfo {
  std::string username;
  std::string uid;
  std::vector<std::string> groups;
  // False when the event's user object is empty ({}), as for failed authentication.
  bool present() const { return !username.empty() || !uid.empty() || !groups.empty(); }
};

struct ObjectRef {
  std::string resource;
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string api_group;
  std::string api_version;
  std::string resource_version;
  std::string subresource;
};

struct AuditEvent {
  std::string audit_id;
  Stage stage = Stage::kResponseComplete;
  Level level = Level::kMetadata;           // the level applied (after ktrail's policy, if any)
  Level level_received = Level::kMetadata;  // the level the event arrived with
  std::string verb;
  std::string request_uri;
  UserInfo user;
  std::optional<UserInfo> impersonated_user;
  std::vector<std::string> source_ips;
  std::string user_agent;
  std::optional<ObjectRef> object_ref;  // absent for non-resource requests
  int response_code = 0;                // 0 when responseStatus is absent (RequestReceived)
  Micros request_received = 0;
  Micros stage_time = 0;
  bool has_request_object = false;
  bool has_response_object = false;

  // The whole event, compact JSON, as it is stored.
  std::string json;
};

}  // namespace ktrail
