// The audit Event fields the fast decoder (core/audit_json_fast.cpp) reads, and the member
// names that spell them in each object of an Event. Internal to core.
#pragma once

#include <string_view>

namespace ktrail::fast_audit {

// The fields read, one bit each in EventState::seen (a field given twice is declined: the
// document path reads the first, and which one a stream saw first is not worth tracking).
enum Field : int {
  kNone = -1,
  kAuditId,
  kStage,
  kLevel,
  kVerb,
  kRequestUri,
  kUserAgent,
  kReceived,
  kStageTime,
  kUserField,
  kImpersonatedField,
  kSourceIpsField,
  kObjectRefField,
  kResponseStatusField,
  kRequestObject,
  kResponseObject,
  kUsername,
  kUid,
  kGroupsField,
  kImpUsername,
  kImpUid,
  kImpGroupsField,
  kResource,
  kNamespace,
  kName,
  kObjectUid,
  kApiGroup,
  kApiVersion,
  kResourceVersion,
  kSubresource,
  kCode,
  kItemsField,  // the EventList's "items" (top object only)
  kTopKind,     // the top object's "kind" (an EventList without items holds no event)
};

inline Field event_field(std::string_view k) {
  if (k == "auditID") return kAuditId;
  if (k == "stage") return kStage;
  if (k == "level") return kLevel;
  if (k == "verb") return kVerb;
  if (k == "requestURI") return kRequestUri;
  if (k == "userAgent") return kUserAgent;
  if (k == "requestReceivedTimestamp") return kReceived;
  if (k == "stageTimestamp") return kStageTime;
  if (k == "user") return kUserField;
  if (k == "impersonatedUser") return kImpersonatedField;
  if (k == "sourceIPs") return kSourceIpsField;
  if (k == "objectRef") return kObjectRefField;
  if (k == "responseStatus") return kResponseStatusField;
  if (k == "requestObject") return kRequestObject;
  if (k == "responseObject") return kResponseObject;
  return kNone;
}

inline Field user_field(std::string_view k, bool impersonated) {
  if (k == "username") return impersonated ? kImpUsername : kUsername;
  if (k == "uid") return impersonated ? kImpUid : kUid;
  if (k == "groups") return impersonated ? kImpGroupsField : kGroupsField;
  return kNone;
}

inline Field object_ref_field(std::string_view k) {
  if (k == "resource") return kResource;
  if (k == "namespace") return kNamespace;
  if (k == "name") return kName;
  if (k == "uid") return kObjectUid;
  if (k == "apiGroup") return kApiGroup;
  if (k == "apiVersion") return kApiVersion;
  if (k == "resourceVersion") return kResourceVersion;
  if (k == "subresource") return kSubresource;
  return kNone;
}

}  // namespace ktrail::fast_audit
