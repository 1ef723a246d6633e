// YAML input for `ktrail ingest`: what `kubectl get events -o yaml`, must-gather and recordings
// of watch traffic write. Each YAML document (documents are separated by `---`) is turned into
// the JSON document it stands for, so the JSON decoders read it unchanged: a single Event or
// audit event, a List/EventList, or a sequence of them.
//
// Scalars follow YAML 1.2's core schema as kubectl writes it: a quoted or block scalar is a
// string; a plain `null`, `~` or empty value is null; `true`/`false` are booleans; plain
// integers and decimals are numbers; anything else (timestamps included) is a string.
// Aliases are expanded, but the JSON of one document may not exceed 16 times its YAML plus
// 1 MiB, nor `max_json_bytes` (so that a few aliases cannot expand into gigabytes: such a
// document is refused, not built); keys must be scalars.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ktrail::ingest {

struct YamlDocument {
  std::size_t index = 0;  // 1-based number of the document in the input
  std::size_t line = 0;   // 1-based line where it starts
  std::string json;       // empty for an empty document (a trailing `---`)
  std::string error;      // why this document could not become JSON (then json is empty)
};

// True when `head` (the first bytes of an input) reads as YAML rather than JSON: after blank
// lines, its first line is a comment, `---`, `%YAML`, a `- ` sequence item or a `key:` line.
bool looks_like_yaml(std::string_view head);

// Calls `each` for every document of `text` in order; an error from `each` stops and is returned.
// YAML that does not parse is an invalid-argument error naming the line and column; documents
// before it have been passed to `each`.
Status for_each_yaml_document(std::string_view text, std::size_t max_json_bytes,
                              const std::function<Status(YamlDocument)>& each);

}  // namespace ktrail::ingest
