#include "tests/support/prometheus_text.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

namespace ktrail::testing {
namespace {

bool valid_name(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) {
      return false;
    }
  }
  return true;
}

// Checks `name="value",...` (escapes \\ \" \n only) and returns the value of `want`, if any.
bool valid_labels(const std::string& s, const std::string& want, std::string* wanted) {
  std::size_t i = 0;
  std::set<std::string> seen;
  while (i < s.size()) {
    const auto eq = s.find('=', i);
    if (eq == std::string::npos) {
      return false;
    }
    const std::string key = s.substr(i, eq - i);
    if (!valid_name(key) || key.find(':') != std::string::npos || !seen.insert(key).second ||
        eq + 1 >= s.size() || s[eq + 1] != '"') {
      return false;
    }
    std::string value;
    std::size_t j = eq + 2;
    for (; j < s.size() && s[j] != '"'; ++j) {
      if (s[j] == '\\') {
        if (j + 1 >= s.size() || (s[j + 1] != '\\' && s[j + 1] != '"' && s[j + 1] != 'n')) {
          return false;
        }
        ++j;
      }
      value += s[j];
    }
    if (j >= s.size()) {
      return false;
    }
    if (key == want) {
      *wanted = value;
    }
    i = j + 1;
    if (i < s.size()) {
      if (s[i] != ',') {
        return false;
      }
      ++i;
    }
  }
  return true;
}

bool parse_value(const std::string& text, double* out) {
  if (text == "+Inf") {
    *out = INFINITY;
    return true;
  }
  if (text == "-Inf") {
    *out = -INFINITY;
    return true;
  }
  if (text == "NaN") {
    *out = NAN;
    return true;
  }
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

// The family a sample belongs to: its own name, or the histogram/summary it is a part of.
std::string family_of(const std::string& sample, const std::map<std::string, PromFamily>& families) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
      const auto base = sample.substr(0, sample.size() - s.size());
      auto it = families.find(base);
      if (it != families.end() && (it->second.type == "histogram" || it->second.type == "summary")) {
        return base;
      }
    }
  }
  return sample;
}

bool check_histogram(const PromFamily& f, std::string* error) {
  // Per label set (without le): buckets non-decreasing, last is +Inf, equal to _count.
  std::map<std::string, std::vector<std::pair<double, double>>> buckets;
  std::map<std::string, double> counts;
  for (const auto& s : f.samples) {
    std::string le;
    std::string rest = s.labels;
    const auto pos = rest.find("le=\"");
    if (pos != std::string::npos) {
      const auto end = rest.find('"', pos + 4);
      le = rest.substr(pos + 4, end - pos - 4);
      rest.erase(pos, end - pos + 1);
      if (!rest.empty() && rest.back() == ',') {
        rest.pop_back();
      }
      if (!rest.empty() && rest.front() == ',') {
        rest.erase(0, 1);
      }
    }
    if (s.name == f.name + "_bucket") {
      double bound = 0;
      if (!parse_value(le, &bound)) {
        *error = f.name + ": bucket without a numeric le";
        return false;
      }
      buckets[rest].push_back({bound, s.value});
    } else if (s.name == f.name + "_count") {
      counts[rest] = s.value;
    }
  }
  for (const auto& [labels, list] : buckets) {
    for (std::size_t i = 1; i < list.size(); ++i) {
      if (list[i].first <= list[i - 1].first || list[i].second < list[i - 1].second) {
        *error = f.name + "{" + labels + "}: buckets not in increasing order or not cumulative";
        return false;
      }
    }
    if (list.empty() || !std::isinf(list.back().first)) {
      *error = f.name + "{" + labels + "}: no le=\"+Inf\" bucket";
      return false;
    }
    if (counts.count(labels) == 0 || counts.at(labels) != list.back().second) {
      *error = f.name + "{" + labels + "}: +Inf bucket differs from _count";
      return false;
    }
  }
  return true;
}

}  // namespace

bool parse_prometheus_strict(const std::string& text, std::map<std::string, PromFamily>* families,
                             std::string* error) {
  families->clear();
  std::set<std::string> closed;  // families whose block has ended
  std::string current;
  std::istringstream in(text);
  int number = 0;
  auto fail = [&](const std::string& why) {
    *error = "line " + std::to_string(number) + ": " + why;
    return false;
  };
  auto enter = [&](const std::string& family) {
    if (family == current) {
      return true;
    }
    if (closed.count(family) != 0) {
      return false;  // a second block of a family
    }
    if (!current.empty()) {
      closed.insert(current);
    }
    current = family;
    return true;
  };
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) {
      continue;
    }
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, name;
      words >> hash >> keyword >> name;
      if (keyword != "HELP" && keyword != "TYPE") {
        continue;  // a comment
      }
      if (!valid_name(name)) {
        return fail("bad metric name '" + name + "'");
      }
      if (!enter(name)) {
        return fail("family " + name + " is written in more than one block");
      }
      auto& f = (*families)[name];
      f.name = name;
      if (!f.samples.empty()) {
        return fail(keyword + " of " + name + " after its samples");
      }
      std::string rest;
      std::getline(words, rest);
      if (!rest.empty() && rest[0] == ' ') {
        rest.erase(0, 1);
      }
      if (keyword == "HELP") {
        if (!f.help.empty()) {
          return fail("second HELP for " + name);
        }
        f.help = rest.empty() ? " " : rest;
      } else {
        if (!f.type.empty()) {
          return fail("second TYPE for " + name);
        }
        static const std::set<std::string> types = {"counter", "gauge", "histogram", "summary",
                                                     "untyped"};
        if (types.count(rest) == 0) {
          return fail("unknown TYPE '" + rest + "'");
        }
        f.type = rest;
      }
      continue;
    }
    PromSample s;
    const auto brace = line.find('{');
    const auto space = line.find(' ');
    std::string value_text;
    if (brace != std::string::npos && brace < space) {
      const auto close = line.find("} ", brace);
      if (close == std::string::npos) {
        return fail("unterminated label set");
      }
      s.name = line.substr(0, brace);
      s.labels = line.substr(brace + 1, close - brace - 1);
      value_text = line.substr(close + 2);
    } else {
      if (space == std::string::npos) {
        return fail("sample without a value");
      }
      s.name = line.substr(0, space);
      value_text = line.substr(space + 1);
    }
    // A timestamp may follow the value.
    if (const auto sp = value_text.find(' '); sp != std::string::npos) {
      value_text.resize(sp);
    }
    std::string ignored;
    if (!valid_name(s.name)) {
      return fail("bad sample name '" + s.name + "'");
    }
    if (!valid_labels(s.labels, "", &ignored)) {
      return fail("bad label set {" + s.labels + "}");
    }
    if (!parse_value(value_text, &s.value)) {
      return fail("bad value '" + value_text + "'");
    }
    const auto family = family_of(s.name, *families);
    if (!enter(family)) {
      return fail("family " + family + " is written in more than one block");
    }
    auto& f = (*families)[family];
    f.name = family;
    f.samples.push_back(s);
  }
  for (const auto& [name, f] : *families) {
    if (f.type == "histogram" && !check_histogram(f, error)) {
      return false;
    }
  }
  return true;
}

}  // namespace ktrail::testing
