// `ktrail policy check` and `ktrail policy lint`: the audit policy engine from the command
// line, to see what a policy file would keep of a log before pointing ktrail at it.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "app/cli.h"
#include "app/commands.h"
#include "app/query_args.h"
#include "core/audit_json.h"
#include "core/json.h"
#include "processors/policy/checker.h"
#include "processors/policy/loader.h"
#include "processors/policy/validation.h"

namespace po = boost::program_options;

namespace ktrail::app {
namespace {

struct Parsed {
  po::variables_map vm;
  bool help = false;
};

// Parses `args`; returns false (after printing the error) on a usage error.
bool parse_args(const Args& args, const po::options_description& desc,
                const po::positional_options_description& pos, Parsed* out) {
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), out->vm);
    po::notify(out->vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "ktrail: %s\n", explain_option_error(e, desc).c_str());
    return false;
  }
  out->help = out->vm.count("help") > 0;
  return true;
}

std::shared_ptr<const policy::CompiledPolicy> load_compiled(const std::string& path) {
  policy::LoadedPolicy loaded = policy::load_policy_file(path);
  for (const auto& d : loaded.diagnostics) {
    std::fprintf(stderr, "ktrail: %s\n", d.to_string().c_str());
  }
  if (!loaded.ok()) {
    return nullptr;
  }
  auto compiled = policy::CompiledPolicy::compile(loaded.policy);
  if (!compiled) {
    std::fprintf(stderr, "ktrail: %s: %s\n", path.c_str(), compiled.status().message().c_str());
    return nullptr;
  }
  return *compiled;
}

void print_decision(const AuditEvent& e, const policy::Decision& d) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("auditID");
  w.String(e.audit_id.data(), static_cast<rapidjson::SizeType>(e.audit_id.size()));
  w.Key("stage");
  w.String(to_string(e.stage));
  w.Key("level");
  w.String(to_string(d.level));
  w.Key("keep");
  w.Bool(d.keeps(e.stage));
  w.Key("rule");
  if (d.rule) {
    w.Uint64(*d.rule + 1);
  } else {
    w.Null();
  }
  w.Key("omitStages");
  w.StartArray();
  for (const Stage s : d.omit_stages.to_vector()) {
    w.String(to_string(s));
  }
  w.EndArray();
  w.Key("omitManagedFields");
  w.Bool(d.omit_managed_fields);
  w.EndObject();
  std::fwrite(buf.GetString(), 1, buf.GetSize(), stdout);
  std::fputc('\n', stdout);
}

void print_lint_json(const std::string& path, const policy::LoadedPolicy& loaded) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const std::string& s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("file");
  str(path);
  w.Key("rules");
  w.Uint64(loaded.ok() ? loaded.policy.rules.size() : 0);
  for (const auto severity : {policy::Severity::kError, policy::Severity::kWarning}) {
    w.Key(severity == policy::Severity::kError ? "errors" : "warnings");
    w.StartArray();
    for (const auto& d : loaded.diagnostics) {
      if (d.severity != severity) {
        continue;
      }
      w.StartObject();
      w.Key("line");
      w.Int(d.pos.line);
      w.Key("column");
      w.Int(d.pos.column);
      w.Key("field");
      str(d.field);
      w.Key("message");
      str(d.message);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  std::printf("%s\n", buf.GetString());
}

bool read_all(std::istream& in, std::string* out) {
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return !in.bad();
}

}  // namespace

int cmd_policy_check(const Args& args) {
  po::options_description desc(
      "usage: ktrail policy check --policy FILE [INPUT|-]\n\n"
      "Evaluates an audit policy against audit events (JSON lines, an EventList, or a JSON\n"
      "array; INPUT '-' or absent = stdin) and prints one JSON line per event:\n"
      "  {\"auditID\":..,\"stage\":..,\"level\":..,\"keep\":true|false,\"rule\":N|null,\n"
      "   \"omitStages\":[..],\"omitManagedFields\":true|false}\n"
      "level is the policy's decision for the request (ktrail stores at most the level the\n"
      "event arrived with), rule the 1-based matching rule, keep false for level None or an\n"
      "omitted stage; omitStages (the rule's united with the policy's) and omitManagedFields\n"
      "are the rest of the decision, as kube-apiserver's policy evaluator returns it. Unreadable items are reported on stderr and make the exit status 1.\n\n"
      "options");
  desc.add_options()("help,h", "show this help")("policy", po::value<std::string>()->required(),
                                                 "audit policy file (YAML or JSON)")(
      "input", po::value<std::string>()->default_value("-"), "audit log file, or - for stdin");
  po::positional_options_description pos;
  pos.add("input", 1);
  Parsed p;
  const bool wants_help = std::find(args.begin(), args.end(), "--help") != args.end() ||
                          std::find(args.begin(), args.end(), "-h") != args.end();
  if (wants_help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  if (!parse_args(args, desc, pos, &p)) {
    return kExitUsage;
  }
  auto compiled = load_compiled(p.vm["policy"].as<std::string>());
  if (!compiled) {
    return kExitFailure;
  }
  const std::string input = p.vm["input"].as<std::string>();
  std::ifstream file;
  if (input != "-") {
    file.open(input, std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "ktrail: cannot read %s\n", input.c_str());
      return kExitFailure;
    }
  }
  std::istream& in = input == "-" ? std::cin : file;
  const std::string name = input == "-" ? "<stdin>" : input;

  std::size_t bad = 0;
  std::string path;
  auto report = [&](const DecodedAudit& d, const std::string& where) {
    for (const auto& e : d.events) {
      print_decision(e, compiled->evaluate(policy::attributes_from_event(e, &path)));
    }
    for (const auto& r : d.rejected) {
      std::fprintf(stderr, "ktrail: %s: %s\n", where.c_str(), r.reason.c_str());
      ++bad;
    }
  };
  auto blank = [](std::string_view line) {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
  };
  // Each line is a JSON value (an Event, or an EventList on one line): decoded as it comes,
  // so logs of any size stream through.
  auto one_line = [&](std::string_view line, std::size_t line_no) {
    const std::string where = name + ":" + std::to_string(line_no);
    auto doc = decode_audit_document(line);
    if (!doc) {
      std::fprintf(stderr, "ktrail: %s: %s\n", where.c_str(), doc.status().message().c_str());
      ++bad;
      return;
    }
    report(*doc, where);
  };

  // JSON lines unless the first non-blank line is not a JSON value by itself, as in an
  // indented EventList: then the input is read whole as one document.
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!blank(line)) {
      break;
    }
  }
  rapidjson::Document probe;
  if (!blank(line) && !json::parse(line, &probe).is_ok()) {
    std::string text = line + "\n";
    std::string rest;
    read_all(in, &rest);
    text += rest;
    auto doc = decode_audit_document(text);
    if (doc) {
      report(*doc, name);
    } else {
      // Not one document either: report it line by line.
      std::size_t start = 0;
      for (std::size_t n = line_no; start < text.size(); ++n) {
        std::size_t end = text.find('\n', start);
        end = end == std::string::npos ? text.size() : end;
        const std::string_view l(text.data() + start, end - start);
        start = end + 1;
        if (!blank(l)) {
          one_line(l, n);
        }
      }
    }
  } else if (!blank(line)) {
    one_line(line, line_no);
    while (std::getline(in, line)) {
      ++line_no;
      if (!blank(line)) {
        one_line(line, line_no);
      }
    }
  }
  if (in.bad()) {
    std::fprintf(stderr, "ktrail: error reading %s\n", name.c_str());
    ++bad;
  }
  std::fflush(stdout);
  return bad == 0 ? kExitOk : kExitFailure;
}

int cmd_policy_lint(const Args& args) {
  po::options_description desc(
      "usage: ktrail policy lint --policy FILE\n\n"
      "Loads an audit policy as kube-apiserver would and prints its errors and warnings\n"
      "(fields kube-apiserver silently ignores, which widen a rule; rules that can never\n"
      "match; selectors that cannot work as written) as\n"
      "  file:line:column: error|warning: field: message\n"
      "or, with -o json, one JSON document:\n"
      "  {\"file\":..,\"rules\":N,\"errors\":[{\"line\":..,\"column\":..,\"field\":..,"
      "\"message\":..}],\"warnings\":[..]}\n"
      "Exit status 1 if there are errors.\n\n"
      "options");
  desc.add_options()("help,h", "show this help")("policy", po::value<std::string>(),
                                                 "audit policy file (YAML or JSON)")(
      "output,o", po::value<std::string>()->default_value("text"), "text or json");
  po::positional_options_description pos;
  pos.add("policy", 1);
  Parsed p;
  if (!parse_args(args, desc, pos, &p)) {
    return kExitUsage;
  }
  if (p.help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  if (!p.vm.count("policy")) {
    std::fprintf(stderr, "ktrail: the option '--policy' is required\n");
    return kExitUsage;
  }
  const std::string output = p.vm["output"].as<std::string>();
  if (output != "text" && output != "json") {
    std::fprintf(stderr, "ktrail: --output must be text or json, not '%s'\n", output.c_str());
    return kExitUsage;
  }
  const std::string path = p.vm["policy"].as<std::string>();
  policy::LoadedPolicy loaded = policy::load_policy_file(path);
  if (loaded.ok()) {
    policy::lint_policy(loaded.policy, path, &loaded.diagnostics);
    std::stable_sort(loaded.diagnostics.begin(), loaded.diagnostics.end(),
                     [](const policy::Diagnostic& a, const policy::Diagnostic& b) {
                       return a.pos.line < b.pos.line;
                     });
  }
  const std::size_t errors = loaded.error_count();
  if (output == "json") {
    print_lint_json(path, loaded);
    return errors ? kExitFailure : kExitOk;
  }
  std::size_t warnings = 0;
  for (const auto& d : loaded.diagnostics) {
    std::printf("%s\n", d.to_string().c_str());
    warnings += d.severity == policy::Severity::kWarning ? 1 : 0;
  }
  std::printf("%s: %zu rules, %zu errors, %zu warnings\n", path.c_str(),
              errors ? std::size_t{0} : loaded.policy.rules.size(), errors, warnings);
  return errors ? kExitFailure : kExitOk;
}

}  // namespace ktrail::app
