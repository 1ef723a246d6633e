// The store's event block codec (storage/event_codec.h). Two checks per input:
//  * read side: the input taken as a stored block (first byte the format) is read without a
//    sanitizer report, whatever it holds (a damaged or hostile store file);
//  * round trip: the input cut into events at '\n' and laid out as a block, plain and zstd,
//    gives every event back exactly.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "storage/block_compressor.h"
#include "storage/event_codec.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "block codec: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ktrail::storage;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!text.empty()) {
    const auto format = static_cast<BlockFormat>(static_cast<unsigned char>(text[0]) & 1);
    const std::string_view block = text.substr(1);
    auto plain = unpack_block(block, format);
    if (plain.is_ok()) {
      for (std::size_t i = 0; i < 4; ++i) {
        (void)plain_block_event(*plain, i);
      }
    }
    (void)unpack_block_event(block, format, 0);
  }

  std::vector<std::string_view> events;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size() && events.size() < kBlockEvents; ++i) {
    if (i == text.size() || text[i] == '\n') {
      events.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  std::string layout;
  append_plain_layout(events, &layout);
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto e = plain_block_event(layout, i);
    if (!e.is_ok() || *e != events[i]) fail("plain round trip");
  }
  static BlockCompressor compressor(1);
  compressor.submit(1, events);
  auto packed = compressor.collect();
  if (!packed.is_ok() || packed->size() != 1) fail("compress");
  const PackedBlock& b = packed->front();
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto e = unpack_block_event(b.data, b.format, i);
    if (!e.is_ok() || *e != events[i]) fail("compressed round trip");
  }
  return 0;
}
