// Where something is in a rules file, and what the loader says about it. Errors refuse the
// whole load; warnings (what `ktrail detect --lint` prints) do not.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace ktrail::detect {

struct Location {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
  std::string to_string() const;  // "file:line:column"
};

struct Diagnostic {
  bool error = true;
  Location where;
  std::string message;
  std::string to_string() const;  // "file:line:column: error: message"
};

struct Diagnostics {
  std::vector<Diagnostic> items;
  void error(const Location& where, std::string message) {
    items.push_back({true, where, std::move(message)});
  }
  void warn(const Location& where, std::string message) {
    items.push_back({false, where, std::move(message)});
  }
  bool has_errors() const;
  // The errors, one per line, as an kInvalidArgument Status; ok when there are none.
  Status status() const;
};

}  // namespace ktrail::detect
