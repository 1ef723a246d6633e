// Decoding audit events: the streaming fast path (decode_audit_line / decode_audit_document)
// against the document path (parse into a RapidJSON document, then read fields), on the same
// generated Metadata-level events, as JSON lines and as 400-event EventList bodies, and on
// EventList bodies of RequestResponse events (request and response objects of ~4 KB).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bench/generator.h"
#include "core/audit_json.h"

namespace {

const std::vector<std::string>& lines() {
  static const std::vector<std::string> all = [] {
    ktrail::bench::AuditGenerator gen;
    std::vector<std::string> out;
    for (int i = 0; i < 4000; ++i) {
      out.push_back(gen.next_line());
    }
    return out;
  }();
  return all;
}

// Ten 400-event EventList bodies of Metadata-level or RequestResponse events.
const std::vector<std::string>& bodies(bool request_response) {
  auto make = [](bool rr) {
    ktrail::bench::GeneratorOptions options;
    options.request_response = rr;
    ktrail::bench::AuditGenerator gen(options);
    std::vector<std::string> out;
    for (int i = 0; i < 10; ++i) {
      out.push_back(gen.next_event_list(400));
    }
    return out;
  };
  static const std::vector<std::string> metadata = make(false);
  static const std::vector<std::string> with_objects = make(true);
  return request_response ? with_objects : metadata;
}

template <void (*Decode)(std::string_view, ktrail::DecodedAudit*)>
void lines_bench(benchmark::State& state) {
  const auto& in = lines();
  std::size_t bytes = 0;
  for (auto _ : state) {
    // In batches of 400, as a replay reads them.
    for (std::size_t first = 0; first < in.size(); first += 400) {
      ktrail::DecodedAudit out;
      const std::size_t last = std::min(in.size(), first + 400);
      for (std::size_t i = first; i < last; ++i) {
        Decode(in[i], &out);
        bytes += in[i].size();
      }
      if (out.events.size() != last - first) {
        state.SkipWithError("an event was not decoded");
      }
      benchmark::DoNotOptimize(out);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

template <ktrail::Result<ktrail::DecodedAudit> (*Decode)(std::string_view), bool kRequestResponse>
void bodies_bench(benchmark::State& state) {
  const auto& in = bodies(kRequestResponse);
  std::size_t bytes = 0;
  for (auto _ : state) {
    for (const auto& body : in) {
      auto out = Decode(body);
      if (!out || out->events.size() != 400) {
        state.SkipWithError("a body was not decoded");
      }
      bytes += body.size();
      benchmark::DoNotOptimize(out);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * in.size() * 400));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void BM_LineFast(benchmark::State& s) { lines_bench<ktrail::decode_audit_line>(s); }
void BM_LineDocumentPath(benchmark::State& s) { lines_bench<ktrail::decode_audit_line_via_dom>(s); }
void BM_EventListFast(benchmark::State& s) {
  bodies_bench<ktrail::decode_audit_document, false>(s);
}
void BM_EventListDocumentPath(benchmark::State& s) {
  bodies_bench<ktrail::decode_audit_document_via_dom, false>(s);
}
void BM_RequestResponseListFast(benchmark::State& s) {
  bodies_bench<ktrail::decode_audit_document, true>(s);
}
void BM_RequestResponseListDocumentPath(benchmark::State& s) {
  bodies_bench<ktrail::decode_audit_document_via_dom, true>(s);
}

BENCHMARK(BM_LineFast);
BENCHMARK(BM_LineDocumentPath);
BENCHMARK(BM_EventListFast);
BENCHMARK(BM_EventListDocumentPath);
BENCHMARK(BM_RequestResponseListFast);
BENCHMARK(BM_RequestResponseListDocumentPath);

}  // namespace

BENCHMARK_MAIN();
