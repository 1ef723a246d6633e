// Deriving request attributes from an HTTP request line, as kube-apiserver's
// RequestInfoFactory does (k8s-audit-spec.md §1.2): which requests are resource requests, the
// verb (create/get/list/watch/update/patch/delete/deletecollection/proxy), namespace,
// resource, subresource, name (including a list/watch's `fieldSelector=metadata.name=x`).
//
// ktrail uses it where an event gives only a URL: the `path` of non-resource requests, and
// the checks of the upstream request-info vectors.
#pragma once

#include <string>
#include <string_view>

namespace ktrail::policy {

struct RequestInfo {
  bool is_resource_request = false;
  std::string path;  // the URL path, percent-decoded, without the query
  std::string verb;  // for non-resource requests: the lower-cased HTTP method
  std::string api_prefix;
  std::string api_group;
  std::string api_version;
  std::string namespace_;
  std::string resource;
  std::string subresource;
  std::string name;
};

RequestInfo derive_request_info(std::string_view method, std::string_view url);

// For a `create` (POST) or an `update` (PUT): the namespace and name kube-apiserver took from
// the URL when it evaluated the policy. The event's objectRef has empty ones filled in from the
// request body (the created object's name; the namespace a cluster-scoped object's body
// claims), which the policy never saw. The path is percent-decoded before it is split, as
// kube-apiserver does; the views point into `uri` or into `storage`. False if the URI is not a
// resource URL or has a bad escape (then the event's values stand).
bool url_scope(std::string_view uri, std::string* storage, std::string_view* namespace_,
               std::string_view* name);

// The path of a request URI: up to '?' (or '#'), percent-decoded. An invalid escape is kept
// literally rather than refused, since the URI comes from an event already accepted.
std::string request_path(std::string_view uri);

}  // namespace ktrail::policy
