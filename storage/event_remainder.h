// What a sealed segment keeps of an original event: the event's bytes with the texts its columns
// already hold left out, and how to put them back byte for byte.
//
// Contract:
// - EventTexts holds, for one row of a segment, the texts its columns give (the auditID, the two
//   timestamps as RFC 3339 with microseconds and, when whole seconds, without, the user, the
//   object, the source IPs and groups as compact JSON arrays, the code, stage and level names,
//   ...). An empty text is one the row does not have.
// - strip_event() replaces, in a copy of the original, occurrences of those texts by one marker
//   byte each (a control byte that no JSON text holds unescaped): the auditID, times, names and
//   user agent wherever they appear, the short values (verb, code, groups, ...) only right after
//   their key. It then rebuilds the result and keeps it only if that gives the original exactly;
//   otherwise (an original holding a marker byte, a text holding one) the original is kept whole.
//   The entry's first byte says which: 'R' (stripped) or 'V' (whole).
// - rebuild_event() gives back the original from an entry and the same row's texts, or an error
//   for an entry that names a text the row does not have or has an unknown first byte.
// Exactness therefore rests on the texts at reading being the ones at sealing: they come from the
// segment's columns and the append-only dictionary, both covered by the segment's hash.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ktrail::storage {

enum EventText : std::size_t {
  kTextAuditId = 0,
  kTextStageTime,
  kTextStageSeconds,
  kTextReceived,
  kTextReceivedSeconds,
  kTextUser,
  kTextImpUser,
  kTextNamespace,
  kTextName,
  kTextResource,
  kTextUserAgent,
  kTextVerb,
  kTextSubresource,
  kTextGroups,
  kTextSourceIps,
  kTextCode,
  kTextStage,
  kTextLevel,
  kEventTexts
};

struct EventTexts {
  std::array<std::string, kEventTexts> text;
};

std::string strip_event(std::string_view original, const EventTexts& texts);
Status rebuild_event(std::string_view entry, const EventTexts& texts, std::string* out);

}  // namespace ktrail::storage
