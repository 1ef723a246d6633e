#include "processors/policy/checker.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <functional>

#include "processors/policy/intern_table.h"

namespace ktrail::policy {
namespace {

using Id = std::uint32_t;
constexpr Id kAbsent = 0;           // a string no rule mentions
constexpr Id kUnset = 0xFFFFFFFFu;  // not looked up yet

struct CompiledGroup {
  bool any_group = false;
  Id group = kAbsent;
  bool all_resources = false;  // `resources` empty: every resource, names not consulted
  bool names_restricted = false;
  IdSet names;
  bool star = false;       // "*"
  IdSet exact;             // "res" or "res/sub", compared with the combined resource
  IdSet any_resource_sub;  // "*/X": the X
  IdSet resource_any_sub;  // "R/*": the R
};

enum class RuleKind { kAny, kResource, kNonResource };

struct CompiledRule {
  Level level = Level::kNone;
  StageSet omit_stages;
  bool omit_managed_fields = false;
  IdSet users, groups, verbs, namespaces;
  RuleKind kind = RuleKind::kAny;
  std::vector<CompiledGroup> resources;
  bool url_any = false;
  IdSet url_exact;
  std::vector<std::string> url_prefixes;
};

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

struct CompiledPolicy::Impl {
  InternTable table;
  std::vector<CompiledRule> rules;
  StageSet policy_stages;
  bool policy_omit_managed_fields = false;

  // A pre-filter over blocks of 64 rules: from the user, groups, verb and request kind alone
  // (one lookup each), the rules that can still match; only those are checked in full.
  std::size_t blocks = 0;
  std::size_t id_count = 0;                         // ids are 1..id_count
  std::vector<std::uint64_t> all;                   // [block]
  std::vector<std::uint64_t> needs_users, by_user;  // [block], [id * blocks + block]
  std::vector<std::uint64_t> needs_groups, by_group;
  std::vector<std::uint64_t> needs_verbs, by_verb;
  std::vector<std::uint64_t> resource_only, non_resource_only;

  void build_prefilter() {
    blocks = (rules.size() + 63) / 64;
    id_count = table.size();
    all.assign(blocks, 0);
    needs_users.assign(blocks, 0);
    needs_groups.assign(blocks, 0);
    needs_verbs.assign(blocks, 0);
    resource_only.assign(blocks, 0);
    non_resource_only.assign(blocks, 0);
    by_user.assign((id_count + 1) * blocks, 0);
    by_group.assign((id_count + 1) * blocks, 0);
    by_verb.assign((id_count + 1) * blocks, 0);
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const std::size_t b = i / 64;
      const std::uint64_t bit = 1ull << (i % 64);
      const CompiledRule& r = rules[i];
      all[b] |= bit;
      auto index = [&](const IdSet& set, std::vector<std::uint64_t>& needs,
                       std::vector<std::uint64_t>& by) {
        if (!set.empty()) {
          needs[b] |= bit;
          for (Id id : set.ids()) {
            by[id * blocks + b] |= bit;
          }
        }
      };
      index(r.users, needs_users, by_user);
      index(r.groups, needs_groups, by_group);
      index(r.verbs, needs_verbs, by_verb);
      if (r.kind == RuleKind::kResource) {
        resource_only[b] |= bit;
      } else if (r.kind == RuleKind::kNonResource) {
        non_resource_only[b] |= bit;
      }
    }
  }

  Id intern(std::string_view s) { return table.intern(s); }
  Id lookup(std::string_view s) const { return table.lookup(s); }
  void intern_all(const std::vector<std::string>& list, IdSet* out) {
    for (const auto& s : list) {
      out->add(intern(s));
    }
  }
};

namespace {

// The request's attributes as interned ids, looked up on first use only: most rules fail
// on their first selector, so most attributes are never looked up.
class LazyIds {
 public:
  LazyIds(const CompiledPolicy::Impl& impl, const RequestAttributes& r) : impl_(impl), r_(r) {}

  Id user() { return get(user_, r_.user); }
  Id verb() { return get(verb_, r_.verb); }
  Id namespace_() { return get(namespace_id_, r_.namespace_); }
  Id api_group() { return get(group_, r_.api_group); }
  Id resource() { return get(resource_, r_.resource); }
  Id subresource() { return get(subresource_, r_.subresource); }
  Id name() { return get(name_, r_.name); }
  Id path() { return get(path_, r_.path); }
  Id combined() {
    if (combined_ == kUnset) {
      if (r_.subresource.empty()) {
        combined_ = resource();
      } else {
        std::array<char, 256> buf;
        const std::size_t n = r_.resource.size() + 1 + r_.subresource.size();
        if (n <= buf.size()) {
          std::copy(r_.resource.begin(), r_.resource.end(), buf.begin());
          buf[r_.resource.size()] = '/';
          std::copy(r_.subresource.begin(), r_.subresource.end(),
                    buf.begin() + static_cast<std::ptrdiff_t>(r_.resource.size() + 1));
          combined_ = impl_.lookup(std::string_view(buf.data(), n));
        } else {
          std::string s;
          s.reserve(n);
          s.append(r_.resource).append(1, '/').append(r_.subresource);
          combined_ = impl_.lookup(s);
        }
      }
    }
    return combined_;
  }

  // The interned ids of the request's groups (those any rule mentions).
  template <typename Fn>
  void for_each_group(Fn&& fn) {
    ensure_groups();
    for (std::size_t i = 0; i < group_count_; ++i) {
      fn(group_ids_[i]);
    }
    for (Id id : more_groups_) {
      fn(id);
    }
  }

  bool any_group_in(const IdSet& set) {
    if (r_.groups == nullptr) {
      return false;
    }
    ensure_groups();
    for (std::size_t i = 0; i < group_count_; ++i) {
      if (set.contains(group_ids_[i])) {
        return true;
      }
    }
    for (Id id : more_groups_) {
      if (set.contains(id)) {
        return true;
      }
    }
    return false;
  }

 private:
  void ensure_groups() {
    if (r_.groups != nullptr && !groups_done_) {
      groups_done_ = true;
      for (const auto& g : *r_.groups) {
        const Id id = impl_.lookup(g);
        if (id == kAbsent) {
          continue;
        }
        if (group_count_ < group_ids_.size()) {
          group_ids_[group_count_++] = id;
        } else {
          more_groups_.push_back(id);
        }
      }
    }
  }

  Id get(Id& slot, std::string_view s) {
    if (slot == kUnset) {
      slot = impl_.lookup(s);
    }
    return slot;
  }

  const CompiledPolicy::Impl& impl_;
  const RequestAttributes& r_;
  Id user_ = kUnset, verb_ = kUnset, namespace_id_ = kUnset, group_ = kUnset, resource_ = kUnset,
     subresource_ = kUnset, name_ = kUnset, path_ = kUnset, combined_ = kUnset;
  bool groups_done_ = false;
  std::array<Id, 16> group_ids_{};
  std::size_t group_count_ = 0;
  std::vector<Id> more_groups_;
};

bool matches_resource(const CompiledRule& rule, const RequestAttributes& r, LazyIds& ids) {
  if (!r.is_resource_request) {
    return false;
  }
  if (!rule.namespaces.empty() && !rule.namespaces.contains(ids.namespace_())) {
    return false;
  }
  if (rule.resources.empty()) {
    return true;
  }
  for (const CompiledGroup& g : rule.resources) {
    if (!g.any_group && g.group != ids.api_group()) {
      continue;
    }
    if (g.all_resources) {
      return true;
    }
    if (g.names_restricted && !g.names.contains(ids.name())) {
      continue;
    }
    if (g.star || g.exact.contains(ids.combined())) {
      return true;
    }
    if (!r.subresource.empty() && g.any_resource_sub.contains(ids.subresource())) {
      return true;
    }
    if (g.resource_any_sub.contains(ids.resource())) {
      return true;
    }
  }
  return false;
}

bool matches_non_resource(const CompiledRule& rule, const RequestAttributes& r, LazyIds& ids) {
  if (r.is_resource_request) {
    return false;
  }
  if (rule.url_any || rule.url_exact.contains(ids.path())) {
    return true;
  }
  for (const auto& prefix : rule.url_prefixes) {
    if (r.path.substr(0, prefix.size()) == prefix) {
      return true;
    }
  }
  return false;
}

bool matches(const CompiledRule& rule, const RequestAttributes& r, LazyIds& ids) {
  if (!rule.users.empty() && (!r.has_user || !rule.users.contains(ids.user()))) {
    return false;
  }
  if (!rule.groups.empty() && (!r.has_user || !ids.any_group_in(rule.groups))) {
    return false;
  }
  if (!rule.verbs.empty() && !rule.verbs.contains(ids.verb())) {
    return false;
  }
  switch (rule.kind) {
    case RuleKind::kResource:
      return matches_resource(rule, r, ids);
    case RuleKind::kNonResource:
      return matches_non_resource(rule, r, ids);
    case RuleKind::kAny:
      return true;
  }
  return false;
}

Result<StageSet> parse_stages(const std::vector<std::string>& names) {
  StageSet set;
  for (const auto& n : names) {
    auto s = parse_stage(n);
    if (!s) {
      return invalid_argument("unknown stage \"" + n + "\"");
    }
    set.add(*s);
  }
  return set;
}

}  // namespace

std::vector<Stage> StageSet::to_vector() const {
  std::vector<Stage> out;
  for (Stage s : {Stage::kRequestReceived, Stage::kResponseStarted, Stage::kResponseComplete,
                  Stage::kPanic}) {
    if (contains(s)) {
      out.push_back(s);
    }
  }
  return out;
}

StageSet union_stages(StageSet a, StageSet b) { return a.united(b); }

CompiledPolicy::CompiledPolicy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledPolicy::~CompiledPolicy() = default;

std::size_t CompiledPolicy::rule_count() const { return impl_->rules.size(); }

Result<std::shared_ptr<const CompiledPolicy>> CompiledPolicy::compile(const Policy& policy) {
  auto impl = std::make_unique<Impl>();
  auto policy_stages = parse_stages(policy.omit_stages);
  if (!policy_stages) {
    return policy_stages.status();
  }
  impl->policy_stages = *policy_stages;
  impl->policy_omit_managed_fields = policy.omit_managed_fields;
  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const PolicyRule& in = policy.rules[i];
    CompiledRule out;
    bool known = false;
    out.level = parse_level(in.level, &known);
    if (!known) {
      return invalid_argument("rules[" + std::to_string(i) + "]: unknown level \"" + in.level +
                              "\"");
    }
    auto stages = parse_stages(in.omit_stages);
    if (!stages) {
      return invalid_argument("rules[" + std::to_string(i) + "]: " + stages.status().message());
    }
    out.omit_stages = union_stages(*policy_stages, *stages);
    out.omit_managed_fields = in.omit_managed_fields.value_or(policy.omit_managed_fields);
    impl->intern_all(in.users, &out.users);
    impl->intern_all(in.user_groups, &out.groups);
    impl->intern_all(in.verbs, &out.verbs);
    impl->intern_all(in.namespaces, &out.namespaces);
    if (!in.namespaces.empty() || !in.resources.empty()) {
      out.kind = RuleKind::kResource;
      for (const GroupResources& gr : in.resources) {
        CompiledGroup g;
        g.any_group = gr.group == "*";
        g.group = impl->intern(gr.group);
        g.all_resources = gr.resources.empty();
        g.names_restricted = !gr.resource_names.empty();
        impl->intern_all(gr.resource_names, &g.names);
        for (const std::string& spec : gr.resources) {
          // The three tests are independent, as upstream: a spec may satisfy any of them.
          if (spec == "*") {
            g.star = true;
          }
          g.exact.add(impl->intern(spec));
          // Exactly one "*/" or "/*" comes off, as Go's strings.TrimPrefix / TrimSuffix do:
          // "*/*/log" asks for the subresource "*/log", which no request has.
          if (starts_with(spec, "*/")) {
            g.any_resource_sub.add(impl->intern(spec.substr(2)));
          }
          if (ends_with(spec, "/*")) {
            g.resource_any_sub.add(impl->intern(spec.substr(0, spec.size() - 2)));
          }
        }
        out.resources.push_back(std::move(g));
      }
    } else if (!in.non_resource_urls.empty()) {
      out.kind = RuleKind::kNonResource;
      for (const std::string& spec : in.non_resource_urls) {
        if (spec == "*") {
          out.url_any = true;
        }
        out.url_exact.add(impl->intern(spec));
        if (ends_with(spec, "*")) {
          // Go's strings.TrimRight(spec, "*"): every trailing '*'.
          out.url_prefixes.push_back(spec.substr(0, spec.find_last_not_of('*') + 1));
        }
      }
    }
    impl->rules.push_back(std::move(out));
  }
  impl->build_prefilter();
  return std::shared_ptr<const CompiledPolicy>(new CompiledPolicy(std::move(impl)));
}

Decision CompiledPolicy::evaluate(const RequestAttributes& request) const {
  const Impl& p = *impl_;
  LazyIds ids(p, request);
  const Id user = request.has_user ? ids.user() : kAbsent;
  const Id verb = ids.verb();
  for (std::size_t b = 0; b < p.blocks; ++b) {
    std::uint64_t candidates = p.all[b];
    candidates &= request.is_resource_request ? ~p.non_resource_only[b] : ~p.resource_only[b];
    candidates &= ~p.needs_users[b] | p.by_user[user * p.blocks + b];
    candidates &= ~p.needs_verbs[b] | p.by_verb[verb * p.blocks + b];
    if (candidates & p.needs_groups[b]) {
      std::uint64_t groups = 0;
      if (request.has_user) {
        ids.for_each_group([&](Id g) { groups |= p.by_group[g * p.blocks + b]; });
      }
      candidates &= ~p.needs_groups[b] | groups;
    }
    while (candidates != 0) {
      const std::size_t i = b * 64 + static_cast<std::size_t>(__builtin_ctzll(candidates));
      candidates &= candidates - 1;
      const CompiledRule& rule = p.rules[i];
      if (matches(rule, request, ids)) {
        Decision d;
        d.level = rule.level;
        d.omit_stages = rule.omit_stages;
        d.omit_managed_fields = rule.omit_managed_fields;
        d.rule = i;
        return d;
      }
    }
  }
  // No rule: level None (nothing is emitted); the policy-wide settings are reported as is.
  Decision d;
  d.omit_stages = impl_->policy_stages;
  d.omit_managed_fields = impl_->policy_omit_managed_fields;
  return d;
}

}  // namespace ktrail::policy
