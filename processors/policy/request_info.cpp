#include "processors/policy/request_info.h"

#include <array>
#include <optional>
#include <vector>

#include "processors/policy/checker.h"

namespace ktrail::policy {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; `plus_is_space` for query components. Returns nullopt on a bad escape.
std::optional<std::string> unescape(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = s.find(sep, start);
    parts.push_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) {
      return parts;
    }
    start = at + 1;
  }
}

// The values of query parameter `key`, in order (Go's url.Query()).
std::vector<std::string> query_values(std::string_view query, std::string_view key) {
  std::vector<std::string> out;
  if (query.empty()) {
    return out;
  }
  for (std::string_view pair : split(query, '&')) {
    if (pair.empty() || pair.find(';') != std::string_view::npos) {
      continue;  // Go drops pairs with a ';'
    }
    const std::size_t eq = pair.find('=');
    auto k = unescape(pair.substr(0, eq), true);
    if (!k || *k != key) {
      continue;
    }
    auto v =
        unescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (v) {
      out.push_back(std::move(*v));
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// One term of a field selector: `field=value`, `field==value` or `field!=value`.
struct Term {
  std::string field;
  std::string op;
  std::string value;
};

// Splits on unescaped `sep`; keeps escapes in place.
std::vector<std::string> split_unescaped(std::string_view s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      cur.push_back(s[i]);
      cur.push_back(s[++i]);
    } else if (s[i] == sep) {
      parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(s[i]);
    }
  }
  parts.push_back(std::move(cur));
  return parts;
}

// Undoes the selector escapes \\ \, \= ; any other escape makes the selector invalid.
std::optional<std::string> unescape_selector_value(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      if (i + 1 >= s.size()) {
        return std::nullopt;
      }
      const char n = s[++i];
      if (n != '\\' && n != ',' && n != '=') {
        return std::nullopt;
      }
      out.push_back(n);
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Parses a field selector as kube-apiserver's fields.ParseSelector does; nullopt if invalid.
std::optional<std::vector<Term>> parse_field_selector(std::string_view selector) {
  std::vector<Term> terms;
  for (const std::string& part : split_unescaped(selector, ',')) {
    if (part.empty()) {
      continue;
    }
    bool found = false;
    for (std::size_t i = 0; i < part.size() && !found; ++i) {
      if (part[i] == '\\') {
        ++i;
        continue;
      }
      for (std::string_view op : {"!=", "==", "="}) {
        if (std::string_view(part).substr(i, op.size()) == op) {
          auto value = unescape_selector_value(std::string_view(part).substr(i + op.size()));
          if (!value) {
            return std::nullopt;
          }
          terms.push_back({part.substr(0, i), std::string(op), std::move(*value)});
          found = true;
          break;
        }
      }
    }
    if (!found) {
      return std::nullopt;
    }
  }
  return terms;
}

bool valid_path_segment_name(const std::string& name) {
  return name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('%') == std::string::npos;
}

// kube-apiserver's special verbs: a path segment that names the verb. ("redirect" was one once;
// kube-apiserver now reads it as a resource name.)
// The end of a URI's path: its first '?' or '#' (npos if none). A plain loop: libstdc++'s
// find_first_of calls memchr on the set for every character, ten times slower on a URL.
std::size_t path_end(std::string_view uri) {
  for (std::size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] == '?' || uri[i] == '#') {
      return i;
    }
  }
  return std::string_view::npos;
}

bool is_special_verb(std::string_view s) { return s == "proxy" || s == "watch"; }

}  // namespace

std::string request_path(std::string_view uri) {
  const std::size_t end = path_end(uri);
  const std::string_view raw = uri.substr(0, end);
  auto decoded = unescape(raw, false);
  return decoded ? std::move(*decoded) : std::string(raw);
}

RequestInfo derive_request_info(std::string_view method, std::string_view url) {
  RequestInfo info;
  const std::size_t q = url.find('?');
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : url.substr(q + 1);
  info.path = request_path(url);
  info.verb = lower(method);

  std::string_view trimmed = info.path;
  while (!trimmed.empty() && trimmed.front() == '/') trimmed.remove_prefix(1);
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.remove_suffix(1);
  std::vector<std::string_view> parts;
  if (!trimmed.empty()) {
    parts = split(trimmed, '/');
  }
  // Resource requests are at least /api/<version>/<resource>.
  if (parts.size() < 3 || (parts[0] != "api" && parts[0] != "apis")) {
    return info;
  }
  std::size_t at = 0;
  const std::string prefix(parts[at++]);
  if (prefix == "apis") {
    if (parts.size() - at < 3) {
      return info;  // group, version and resource are needed
    }
    info.api_group = std::string(parts[at++]);
  }
  RequestInfo res = info;  // a non-resource result stays available until here
  res.api_prefix = prefix;
  res.is_resource_request = true;
  res.api_version = std::string(parts[at++]);

  if (at < parts.size() && is_special_verb(parts[at])) {
    if (parts.size() - at < 2) {
      return info;  // kube-apiserver refuses the request; it cannot be matched as a resource
    }
    res.verb = std::string(parts[at++]);
  } else if (method == "POST") {
    res.verb = "create";
  } else if (method == "GET" || method == "HEAD") {
    res.verb = "get";
  } else if (method == "PUT") {
    res.verb = "update";
  } else if (method == "PATCH") {
    res.verb = "patch";
  } else if (method == "DELETE") {
    res.verb = "delete";
  } else {
    res.verb.clear();
  }

  if (at < parts.size() && parts[at] == "namespaces") {
    if (parts.size() - at > 1) {
      res.namespace_ = std::string(parts[at + 1]);
      if (parts.size() - at > 2 && parts[at + 2] != "status" && parts[at + 2] != "finalize") {
        at += 2;
      }
    }
  }
  const std::size_t n = parts.size() - at;
  if (n >= 3 && res.verb != "proxy") {
    res.subresource = std::string(parts[at + 2]);
  }
  if (n >= 2) {
    res.name = std::string(parts[at + 1]);
  }
  if (n >= 1) {
    res.resource = std::string(parts[at]);
  }

  if (res.name.empty() && res.verb == "get") {
    const auto watch = query_values(query, "watch");
    bool is_watch = false;
    if (!watch.empty()) {
      const std::string v = lower(watch[0]);
      is_watch = !(v == "false" || v == "0");
    }
    res.verb = is_watch ? "watch" : "list";
    const auto selectors = query_values(query, "fieldSelector");
    if (!selectors.empty()) {
      if (auto terms = parse_field_selector(selectors[0])) {
        for (const Term& t : *terms) {
          if (t.field == "metadata.name" && (t.op == "=" || t.op == "==")) {
            if (valid_path_segment_name(t.value)) {
              res.name = t.value;
            }
            break;
          }
        }
      }
    }
  }
  if (res.name.empty() && res.verb == "delete") {
    res.verb = "deletecollection";
  }
  return res;
}

bool url_scope(std::string_view uri, std::string* storage, std::string_view* namespace_,
               std::string_view* name) {
  std::string_view path = uri.substr(0, path_end(uri));
  if (path.find('%') != std::string_view::npos) {
    // kube-apiserver split the decoded path (an escaped '/' splits too).
    auto decoded = unescape(path, false);
    if (!decoded) {
      return false;  // kube-apiserver would have refused the URL; keep the event's values
    }
    *storage = std::move(*decoded);
    path = *storage;
  }
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  // The leading segments are enough: prefix, [group], version, [namespaces, ns], resource, name.
  std::array<std::string_view, 9> parts;
  std::size_t count = 0;
  while (!path.empty() && count < parts.size()) {
    const std::size_t slash = path.find('/');
    parts[count++] = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  if (count < 3 || (parts[0] != "api" && parts[0] != "apis")) {
    return false;
  }
  std::size_t at = parts[0] == "apis" ? 2 : 1;
  if (parts[0] == "apis" && count < 4) {
    return false;
  }
  ++at;  // the version
  if (at < count && is_special_verb(parts[at])) {
    return false;  // not a create or an update
  }
  std::string_view ns;
  if (at < count && parts[at] == "namespaces" && count - at > 1) {
    ns = parts[at + 1];
    if (count - at > 2 && parts[at + 2] != "status" && parts[at + 2] != "finalize") {
      at += 2;
    }
  }
  *namespace_ = ns;
  *name = count - at >= 2 ? parts[at + 1] : std::string_view();
  return true;
}

namespace {

// Whether `uri` is an unescaped /api/<v>/[namespaces/<ns>/]<resource>/<name>... (or
// /apis/<g>/<v>/...) URL naming exactly `ns` and `name`, with no allocation. False means "not known": the
// caller then splits the URL fully.
bool url_names(std::string_view uri, std::string_view ns, std::string_view name) {
  std::string_view p = uri.substr(0, path_end(uri));
  if (p.find('%') != std::string_view::npos) {
    return false;
  }
  int segments = 0;  // to skip after the prefix: the version, or the group and version
  if (p.substr(0, 5) == "/api/") {
    p.remove_prefix(5);
    segments = 1;
  } else if (p.substr(0, 6) == "/apis/") {
    p.remove_prefix(6);
    segments = 2;
  } else {
    return false;
  }
  for (; segments > 0; --segments) {
    const std::size_t slash = p.find('/');
    if (slash == std::string_view::npos) {
      return false;
    }
    p.remove_prefix(slash + 1);
  }
  constexpr std::string_view kNamespaces = "namespaces/";
  if (p.substr(0, kNamespaces.size()) != kNamespaces) {
    // A cluster-scoped URL: <resource>/<name>...
    const std::size_t r = p.find('/');
    if (!ns.empty() || r == std::string_view::npos) {
      return false;
    }
    p.remove_prefix(r + 1);
    return !name.empty() && p.substr(0, p.find('/')) == name;
  }
  p.remove_prefix(kNamespaces.size());
  const std::size_t end = p.find('/');
  if (p.substr(0, end) != ns) {
    return false;
  }
  if (end == std::string_view::npos) {
    return name == ns;  // /namespaces/<ns>: the namespace object itself
  }
  p.remove_prefix(end + 1);
  const std::size_t r = p.find('/');  // the resource (or status / finalize of the namespace)
  const std::string_view first = p.substr(0, r);
  if (r == std::string_view::npos || first == "status" || first == "finalize") {
    return name == ns && first.size() > 0 && r == std::string_view::npos &&
           (first == "status" || first == "finalize");
  }
  p.remove_prefix(r + 1);
  return !name.empty() && p.substr(0, p.find('/')) == name;
}

}  // namespace

RequestAttributes attributes_from_event(const AuditEvent& event, std::string* path_storage) {
  RequestAttributes a;
  a.has_user = event.user.present();
  a.user = event.user.username;
  a.groups = &event.user.groups;
  a.verb = event.verb;
  if (event.object_ref) {
    const ObjectRef& ref = *event.object_ref;
    a.is_resource_request = true;
    a.namespace_ = ref.namespace_;
    a.api_group = ref.api_group;
    a.resource = ref.resource;
    a.subresource = ref.subresource;
    a.name = ref.name;
    // The body fills in what the URL left empty. Most updates are of a namespaced object
    // whose URL names both: checked cheaply first.
    const bool from_url =
        event.verb == "create" ||
        (event.verb == "update" && !url_names(event.request_uri, ref.namespace_, ref.name));
    if (from_url) {
      std::string_view ns, name;
      if (url_scope(event.request_uri, path_storage, &ns, &name)) {
        a.namespace_ = ns;
        a.name = name;
      }
    }
  } else {
    // Most non-resource URIs carry no escape and no query: skip the copy then.
    const std::string_view uri = event.request_uri;
    if (path_end(uri) == std::string_view::npos && uri.find('%') == std::string_view::npos) {
      a.path = uri;
    } else {
      *path_storage = request_path(uri);
      a.path = *path_storage;
    }
  }
  return a;
}

}  // namespace ktrail::policy
