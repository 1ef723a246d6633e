#include "processors/policy/validation.h"

#include <optional>
#include <string>

namespace ktrail::policy {
namespace {

bool valid_stage(std::string_view s) { return parse_stage(s).has_value(); }

constexpr const char* kStagesMessage =
    "allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic";

class Validator {
 public:
  Validator(std::string_view source, std::vector<Diagnostic>* out) : source_(source), out_(out) {}

  void policy(const Policy& p) {
    stages(p.omit_stages, "omitStages", p.stages_pos);
    for (std::size_t i = 0; i < p.rules.size(); ++i) {
      rule(p.rules[i], "rules[" + std::to_string(i) + "]");
    }
  }

 private:
  void rule(const PolicyRule& r, const std::string& at) {
    if (r.level.empty()) {
      error(r.pos, at + ".level", "Required value");
    } else {
      bool known = false;
      parse_level(r.level, &known);
      if (!known) {
        error(r.level_pos, at + ".level",
              "Unsupported value: \"" + r.level +
                  "\": supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\"");
      }
    }
    if (!r.non_resource_urls.empty()) {
      if (!r.resources.empty() || !r.namespaces.empty()) {
        error(r.urls_pos, at + ".nonResourceURLs",
              "rules cannot apply to both regular resources and non-resource URLs");
      }
      for (std::size_t i = 0; i < r.non_resource_urls.size(); ++i) {
        const std::string& url = r.non_resource_urls[i];
        const std::string f = at + ".nonResourceURLs[" + std::to_string(i) + "]";
        if (url == "*") {
          continue;
        }
        if (url.empty() || url[0] != '/') {
          error(r.urls_pos, f, "\"" + url + "\": must begin with a '/' character");
        }
        const auto star = url.find('*');
        if (star != std::string::npos && star != url.size() - 1) {
          error(r.urls_pos, f, "\"" + url + "\": wildcards '*' must be the final character");
        }
      }
    }
    for (std::size_t i = 0; i < r.resources.size(); ++i) {
      const GroupResources& g = r.resources[i];
      const std::string f = at + ".resources[" + std::to_string(i) + "]";
      if (!g.group.empty() && g.group != "*" && !is_dns1123_subdomain(g.group)) {
        error(g.pos, f + ".group",
              "Invalid value: \"" + g.group + "\": must be a DNS-1123 subdomain, \"\" or \"*\"");
      }
      if (!g.resource_names.empty() && g.resources.empty()) {
        error(g.pos, f + ".resourceNames", "using resourceNames requires at least one resource");
      }
    }
    stages(r.omit_stages, at + ".omitStages", r.stages_pos);
  }

  void stages(const std::vector<std::string>& list, const std::string& at, SourcePos pos) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (!valid_stage(list[i])) {
        error(pos, at + "[" + std::to_string(i) + "]",
              "Unsupported value: \"" + list[i] + "\": " + kStagesMessage);
      }
    }
  }

  void error(SourcePos pos, std::string field, std::string message) {
    out_->push_back(
        {Severity::kError, std::string(source_), pos, std::move(field), std::move(message)});
  }

  std::string_view source_;
  std::vector<Diagnostic>* out_;
};

bool alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

bool is_dns1123_subdomain(std::string_view value) {
  if (value.empty() || value.size() > 253) {
    return false;
  }
  // Labels of [a-z0-9-], each starting and ending alphanumeric, joined by dots.
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = value.find('.', start);
    const std::string_view label =
        value.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || !alnum_lower(label.front()) || !alnum_lower(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!alnum_lower(c) && c != '-') {
        return false;
      }
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

void lint_policy(const Policy& policy, std::string_view source, std::vector<Diagnostic>* out) {
  auto warn = [&](SourcePos pos, std::string field, std::string message) {
    out->push_back(
        {Severity::kWarning, std::string(source), pos, std::move(field), std::move(message)});
  };
  std::optional<std::size_t> catch_all;
  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const PolicyRule& r = policy.rules[i];
    const std::string at = "rules[" + std::to_string(i) + "]";
    if (catch_all) {
      warn(
          r.pos, at,
          "unreachable: rules[" + std::to_string(*catch_all) + "] before it matches every request");
    }
    const bool selects = !r.users.empty() || !r.user_groups.empty() || !r.verbs.empty() ||
                         !r.resources.empty() || !r.namespaces.empty() ||
                         !r.non_resource_urls.empty();
    if (!selects && !catch_all) {
      catch_all = i;
    }
    bool nameless_verbs = !r.verbs.empty();
    for (const auto& v : r.verbs) {
      nameless_verbs = nameless_verbs &&
                       (v == "create" || v == "list" || v == "watch" || v == "deletecollection");
    }
    for (std::size_t g = 0; g < r.resources.size(); ++g) {
      const GroupResources& gr = r.resources[g];
      const std::string f = at + ".resources[" + std::to_string(g) + "]";
      if (gr.group == "*") {
        warn(gr.pos, f + ".group",
             "group \"*\" needs kube-apiserver v1.36 or later; older servers refuse the policy");
      }
      if (nameless_verbs && !gr.resource_names.empty() && !gr.resources.empty()) {
        warn(gr.pos, f + ".resourceNames",
             "the rule's verbs carry no object name (create, list, watch, deletecollection): "
             "resourceNames match only lists and watches with fieldSelector=metadata.name");
      }
    }
  }
}

void validate_policy(const Policy& policy, std::string_view source, std::vector<Diagnostic>* out) {
  Validator(source, out).policy(policy);
}

}  // namespace ktrail::policy
