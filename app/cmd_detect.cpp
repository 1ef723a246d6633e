// `ktrail detect`: detection rules over audit events from a file or stdin, one JSON line per
// finding on stdout. Nothing is stored.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "app/query_args.h"
#include "core/time.h"
#include "detect/engine.h"
#include "ingest/file_reader.h"

namespace ktrail::app {
namespace po = boost::program_options;
namespace {

void write_finding(const Finding& f, std::string* line) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  str("rule", f.rule);
  str("priority", f.priority);
  str("auditID", f.audit_id);
  str("stage", to_string(f.stage));
  str("time", format_rfc3339(f.time));
  str("output", f.output);
  w.Key("tags");
  w.StartArray();
  for (const auto& t : f.tags) {
    w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
  }
  w.EndArray();
  w.EndObject();
  line->assign(buffer.GetString(), buffer.GetSize());
  line->push_back('\n');
}

}  // namespace

int cmd_detect(const Args& args) {
  std::vector<std::string> rules;
  std::string input = "-";
  po::options_description desc(
      "usage: ktrail detect [--rules FILE ...] [--lint] [FILE|-]\n\n"
      "Evaluates detection rules (Falco k8s_audit rules, docs/detect.md) on audit events (JSON\n"
      "lines or an EventList; .gz works; - or nothing reads stdin) and prints one JSON line per\n"
      "finding. Items that are not audit events are reported on stderr as 'rejected: <reason>'.\n"
      "Exit 0 once the rules loaded, whatever was found; 2 when they do not load.\n\n"
      "options");
  desc.add_options()("help,h", "show this help")(
      "rules", po::value(&rules)->composing(),
      "rules file; repeat for several, in order ('default' is the built-in set, used when no "
      "--rules is given)")("lint", "also print the loader's warnings; without FILE, only check "
                                   "the rules")("input", po::value(&input), "audit events");
  po::positional_options_description positional;
  positional.add("input", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ktrail: %s\n", explain_option_error(e, desc).c_str());
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  const bool lint = vm.count("lint") > 0;
  detect::Diagnostics diags;
  auto engine = detect::Engine::load(rules, &diags);
  for (const auto& d : diags.items) {
    if (d.error || lint) {
      std::fprintf(stderr, "%s\n", d.to_string().c_str());
    }
  }
  if (!engine) {
    return kExitUsage;
  }
  if (lint) {
    std::size_t warnings = 0;
    for (const auto& d : diags.items) {
      warnings += d.error ? 0 : 1;
    }
    std::fprintf(stderr, "ktrail: %zu rules loaded, %zu warnings\n", engine->rules().size(),
                 warnings);
    if (!vm.count("input")) {
      return kExitOk;
    }
  }
  auto decoder = ingest::make_decoder(ingest::PayloadKind::kAudit);
  if (!decoder) {
    std::fprintf(stderr, "ktrail: %s\n", decoder.status().message().c_str());
    return kExitFailure;
  }
  std::uint64_t events = 0;
  std::uint64_t rejected = 0;
  std::uint64_t findings = 0;
  std::vector<const detect::CompiledRule*> matches;
  std::string out;
  std::string line;
  ingest::ReplayCallbacks callbacks;
  callbacks.emit = [&](Batch batch) -> Status {
    out.clear();
    for (const auto& item : batch.rejected) {
      std::fprintf(stderr, "rejected: %s\n", item.reason.c_str());
      ++rejected;
    }
    for (const auto& event : batch.audit) {
      ++events;
      matches.clear();
      engine->evaluate(event, &matches);
      for (const auto* rule : matches) {
        write_finding(engine->make_finding(*rule, event), &line);
        out += line;
        ++findings;
      }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return Status::ok();
  };
  Status s = ingest::replay_file(input, **decoder, ingest::ReplayOptions{}, callbacks);
  std::fflush(stdout);
  if (!s.is_ok()) {
    std::fprintf(stderr, "ktrail: %s: %s\n", input.c_str(), s.message().c_str());
    return kExitFailure;
  }
  std::fprintf(stderr, "ktrail: %llu events, %llu findings, %llu rejected, %llu evaluation errors\n",
               static_cast<unsigned long long>(events), static_cast<unsigned long long>(findings),
               static_cast<unsigned long long>(rejected),
               static_cast<unsigned long long>(engine->evaluation_errors()));
  return kExitOk;
}

}  // namespace ktrail::app
