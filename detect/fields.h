// The fields a condition or an output may name: Falco's k8saudit plugin field set (ka.*) and
// the json plugin's fields over the event (jevt.*, json.*), with the meanings the plugin gives
// them (docs/detect.md lists them). Every value is text, as in the plugin: a JSON value that is
// not a string is written as compact JSON (true, 403, {"a":1}); jevt.rawtime is a number.
//
// Extraction either yields values (one, or a list for list fields, possibly empty) or reports
// that the event has none ("not available"): a comparison on a field with no value is false.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "detect/event_view.h"

namespace ktrail::detect {

enum class FieldType { kString, kNumber };

// What may follow the name in brackets.
enum class FieldArg {
  kNone,         // no argument
  kIndex,        // optional: a number selects one container, volume, rule or port
  kKey,          // required: a name (ka.uri.param[command])
  kJsonPointer,  // required: an RFC 6901 pointer (jevt.value[/requestObject/spec])
};

using Values = std::vector<std::string_view>;
struct FieldInfo;

// A field resolved once at load: the extractor and its argument.
struct FieldRef {
  const FieldInfo* info = nullptr;
  std::string arg;
  int index = -1;  // kIndex argument, or -1 for all
  std::vector<std::string> pointer;  // kJsonPointer argument, split and unescaped
  // A pointer the decoded event answers without parsing its JSON (/stage, /verb, /sourceIPs/N,
  // /user/username, /objectRef/resource ...), classified once at load; kNone for the rest.
  enum class Direct : std::uint8_t {
    kNone, kStage, kVerb, kAuditId, kRequestUri, kSourceIp, kUserName,
    kResource, kNamespace, kName, kSubresource,
  };
  Direct direct = Direct::kNone;
  std::size_t direct_index = 0;  // kSourceIp: which one
  // Fills `out` (cleared first); false when the event has no value for the field.
  bool extract(EventView& event, Values* out) const;
  std::string name() const;  // as written: "jevt.value[/stage]"
};

struct FieldInfo {
  const char* name;
  FieldType type;
  bool is_list;
  FieldArg arg;
  const char* description;
  bool (*extract)(EventView& event, const FieldRef& ref, Values* out);
};

// The table of supported fields.
const std::vector<FieldInfo>& all_fields();

// Resolves "name" with its bracketed argument (may be empty). Errors name what is wrong:
// an unknown field, a missing or unexpected argument, a malformed JSON pointer.
Result<FieldRef> resolve_field(std::string_view name, std::string_view arg, bool has_arg);

}  // namespace ktrail::detect
