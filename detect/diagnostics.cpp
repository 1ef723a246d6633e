#include "detect/diagnostics.h"

namespace ktrail::detect {

std::string Location::to_string() const {
  std::string s = file.empty() ? "<rules>" : file;
  if (line > 0) {
    s += ":" + std::to_string(line) + ":" + std::to_string(column);
  }
  return s;
}

std::string Diagnostic::to_string() const {
  return where.to_string() + (error ? ": error: " : ": warning: ") + message;
}

bool Diagnostics::has_errors() const {
  for (const auto& d : items) {
    if (d.error) {
      return true;
    }
  }
  return false;
}

Status Diagnostics::status() const {
  std::string text;
  for (const auto& d : items) {
    if (d.error) {
      text += (text.empty() ? "" : "\n") + d.to_string();
    }
  }
  return text.empty() ? Status::ok() : invalid_argument(text);
}

}  // namespace ktrail::detect
