// A policy file as kube-apiserver's decoder reads it, before any field has a meaning: a tree
// of JSON values (null, bool, number, string, object, array) with the position of each.
//
// kube-apiserver (k8s.io/apimachinery's universal decoder) reads a file whose first
// non-space character is '{' as strict JSON (Go's encoding/json: no comments, trailing commas,
// single quotes or trailing data; a lone surrogate escape becomes U+FFFD). Anything else is
// YAML, turned into JSON by sigs.k8s.io/yaml on go-yaml v2, which this reproduces:
//  * YAML 1.1 plain scalars: y/yes/on/true.. are booleans, ~/null/"" null, 0x1F, 0o17, 0b101,
//    -0x1F, 0777, 1_000, 1e3 numbers (Go's strconv rules), .nan/.inf floats that JSON cannot
//    hold (the file is refused), timestamps strings; explicit tags (!!str 5, !!bool yes,
//    !!binary ..) and their mismatches (!!bool 1 is an error);
//  * merge keys (`<<: *base`, `<<: [*a, *b]`): the merged entries are set where the key
//    stands, later keys override earlier ones, and in a list the earlier maps win;
//  * duplicate keys: the last one wins (DocEntry::duplicates says where, as kube-apiserver's
//    strict pass does before it falls back to the lenient result);
//  * keys that are numbers or booleans become strings; null, list or map keys are errors.
// YAML objects come out with unique keys. JSON objects keep every occurrence of a key, in
// order: Go's decoder decodes each into the same field (a type error in any refuses the file,
// and a later object merges into what an earlier one filled). An error refuses the whole file,
// as kube-apiserver does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "processors/policy/policy.h"

namespace ktrail::policy {

struct DocEntry;

struct DocValue {
  enum class Kind { kNull, kBool, kNumber, kString, kObject, kArray };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;              // a string's value; a number's source text
  bool non_finite = false;       // YAML .nan / .inf (refused unless overridden)
  std::vector<DocEntry> object;  // unique keys, in file order (YAML: sorted, as Go marshals)
  std::vector<DocValue> array;
  SourcePos pos;
};

struct DocEntry {
  std::string key;
  SourcePos key_pos;
  DocValue value;
  std::vector<SourcePos> duplicates;  // where the same key was given again (the last one won)
};

struct DocProblem {
  SourcePos pos;
  std::string message;
};

struct Document {
  bool ok = false;
  bool json = false;  // read as JSON (the file starts with '{')
  DocValue root;
  DocProblem error;  // when !ok
};

// Reads policy text. `max_values` bounds the values produced (aliases can multiply a small
// YAML file); beyond it the document is refused.
Document read_document(std::string_view text, std::size_t max_values);

}  // namespace ktrail::policy
