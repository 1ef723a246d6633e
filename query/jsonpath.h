// `-o jsonpath=TEMPLATE`: the subset of kubectl's JSONPath templates that the query commands
// take. A template is text with actions in braces:
//   {.user}  {.items[*].auditID}  {range .items[*]}{.time}{"\t"}{.user}{"\n"}{end}
// - Text outside braces is printed as is.
// - {"..."}: a string literal; \n, \t, \r, \", \\ are its escapes.
// - {PATH}: the values PATH selects, joined by one space. A path starts at the document ($,
//   or nothing) or, inside a range, at its current element (@). Its steps: .name, ['name'] or
//   ["name"] (a member), .* or [*] (every element of an array, every member value of an
//   object), [N] (an element; negative counts from the end). Strings print bare, numbers and
//   booleans as text, objects and arrays as compact JSON, null as nothing. A member that is
//   not there selects nothing (kubectl get does the same).
// - {range PATH}...{end}: the text between, once for each value PATH selects, with @ that
//   value. Ranges nest up to 8 deep.
// Anything else (filters [?(...)], recursive descent .., slices [a:b], functions) is refused
// when the template is compiled, with the position and what is supported. Templates are at
// most 64 KiB.
//
// The document of the query commands is kubectl's list: {"kind":"List","items":[...the rows
// as -o json writes them...]}; of `incidents show`, the incident object as -o json writes it.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ktrail::query {

class JsonPath {
 public:
  // A template compiled, or an invalid-argument error saying where and why.
  static Result<JsonPath> compile(std::string_view text);

  // Appends the output of the template run on `root` to `out`.
  void execute(const rapidjson::Value& root, std::string* out) const;

  // Streaming over a list: when the template is text around one action on every item
  // ({range .items[*]}...{end} or {.items[*]PATH}), the list need not be held. begin() writes the
  // text before, item() the output for one item (`*first`: no value printed before; cleared when
  // one is), end() the text
  // after. False when the template needs the whole document.
  bool streams_items() const { return per_item_ >= 0; }
  void begin(std::string* out) const;
  void item(const rapidjson::Value& row, bool* first, std::string* out) const;
  void end(std::string* out) const;

  struct Step {
    enum class Kind { kMember, kEvery, kIndex };
    Kind kind = Kind::kMember;
    std::string name;
    long index = 0;
  };
  struct Path {
    bool from_root = false;  // $ (else the current value: the document, or a range's element)
    std::vector<Step> steps;
  };
  struct Node {
    enum class Kind { kText, kPath, kRange };
    Kind kind = Kind::kText;
    std::string text;
    Path path;
    std::vector<Node> body;  // kRange
  };

 private:
  std::vector<Node> nodes_;
  long per_item_ = -1;  // the node run on each item when streaming
};

}  // namespace ktrail::query
