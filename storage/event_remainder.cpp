#include "storage/event_remainder.h"

#include <algorithm>

namespace ktrail::storage {
namespace {

// The marker of each text: control bytes other than tab, newline and carriage return, which
// JSON allows only escaped.
constexpr std::array<unsigned char, kEventTexts> kMarkers = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0b,
    0x0c, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15};

constexpr std::size_t kNoText = kEventTexts;

constexpr std::array<std::size_t, 32> marker_texts() {
  std::array<std::size_t, 32> out{};
  for (auto& v : out) {
    v = kNoText;
  }
  for (std::size_t i = 0; i < kEventTexts; ++i) {
    out[kMarkers[i]] = i;
  }
  return out;
}
constexpr std::array<std::size_t, 32> kMarkerText = marker_texts();

bool is_marker(unsigned char c) { return c < 32 && kMarkerText[c] != kNoText; }

bool holds_marker(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return is_marker(static_cast<unsigned char>(c)); });
}

// Texts left out wherever they appear (long enough not to be mere fragments).
constexpr EventText kAnywhere[] = {kTextAuditId, kTextStageTime,     kTextStageSeconds,
                                   kTextReceived, kTextReceivedSeconds, kTextUser,
                                   kTextImpUser,  kTextNamespace,     kTextName,
                                   kTextResource, kTextUserAgent};
constexpr std::size_t kMinAnywhere = 3;

// Texts left out only as the value of their key; `quoted`: the value is the text as a JSON
// string, otherwise the text itself (a number, an array).
struct Keyed {
  EventText text;
  std::string_view key;
  bool quoted;
};
constexpr Keyed kKeyed[] = {
    {kTextVerb, "\"verb\":", true},          {kTextSubresource, "\"subresource\":", true},
    {kTextGroups, "\"groups\":", false},     {kTextSourceIps, "\"sourceIPs\":", false},
    {kTextCode, "\"code\":", false},         {kTextStage, "\"stage\":", true},
    {kTextLevel, "\"level\":", true},
};

// Whether the marker of `text` stands for the text as a JSON string (quotes included).
bool quoted(std::size_t text) {
  for (const Keyed& k : kKeyed) {
    if (k.text == text) {
      return k.quoted;
    }
  }
  return false;
}

bool plain_text(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
}

// Replaces every occurrence of `what` in `*s` by `marker`.
void replace_all(std::string* s, std::string_view what, char marker) {
  std::size_t at = s->find(what);
  if (at == std::string::npos) {
    return;
  }
  std::string out;
  out.reserve(s->size());
  std::size_t from = 0;
  while (at != std::string::npos) {
    out.append(*s, from, at - from);
    out.push_back(marker);
    from = at + what.size();
    at = s->find(what, from);
  }
  out.append(*s, from, std::string::npos);
  *s = std::move(out);
}

}  // namespace

std::string strip_event(std::string_view original, const EventTexts& texts) {
  std::string whole = "V";
  whole.append(original);
  if (holds_marker(original)) {
    return whole;
  }
  std::string s(original);
  for (const Keyed& k : kKeyed) {
    const std::string& value = texts.text[k.text];
    if (value.empty() || (k.quoted && !plain_text(value))) {
      continue;
    }
    std::string pattern(k.key);
    if (k.quoted) {
      pattern += '"' + value + '"';
    } else {
      pattern += value;
    }
    const std::size_t at = s.find(pattern);
    if (at != std::string::npos) {
      s.replace(at + k.key.size(), pattern.size() - k.key.size(), 1,
                static_cast<char>(kMarkers[k.text]));
    }
  }
  std::array<EventText, std::size(kAnywhere)> order;
  std::copy(std::begin(kAnywhere), std::end(kAnywhere), order.begin());
  std::stable_sort(order.begin(), order.end(), [&](EventText a, EventText b) {
    return texts.text[a].size() > texts.text[b].size();
  });
  for (const EventText t : order) {
    const std::string& value = texts.text[t];
    if (value.size() >= kMinAnywhere && plain_text(value)) {
      replace_all(&s, value, static_cast<char>(kMarkers[t]));
    }
  }
  std::string entry = "R" + s;
  std::string back;
  if (!rebuild_event(entry, texts, &back).is_ok() || back != original) {
    return whole;
  }
  return entry;
}

Status rebuild_event(std::string_view entry, const EventTexts& texts, std::string* out) {
  out->clear();
  if (entry.empty() || (entry[0] != 'R' && entry[0] != 'V')) {
    return database_error("a sealed event has an unknown form");
  }
  const std::string_view body = entry.substr(1);
  if (entry[0] == 'V') {
    out->assign(body);
    return Status::ok();
  }
  out->reserve(body.size() + 256);
  std::size_t from = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (!is_marker(c)) {
      continue;
    }
    const std::string& value = texts.text[kMarkerText[c]];
    if (value.empty()) {
      return database_error("a sealed event names a column its row does not have");
    }
    out->append(body, from, i - from);
    if (quoted(kMarkerText[c])) {
      out->push_back('"');
      out->append(value);
      out->push_back('"');
    } else {
      out->append(value);
    }
    from = i + 1;
  }
  out->append(body, from, std::string_view::npos);
  return Status::ok();
}

}  // namespace ktrail::storage
