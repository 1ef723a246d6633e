// Term postings: which audit keys hold a given user, namespace or resource (schema.cpp, v7).
//
// A secondary index on audit(user_id) costs a B-tree insert per stored event; three of them
// took half of the writer's time. Instead the writer appends each event's ids to audit_pending
// (at the right edge, like the rows) and a merge turns every few hundred thousand pending rows
// into one audit_postings row per term: (term, last_key, first_key, count, keys), keys being the
// sorted keys delta-encoded as LEB128 varints. A search for a term reads that term's postings
// rows that overlap its key range, plus the pending rows.
//
// A term is a column tag in the high bits and the dictionary id below: the dictionary is shared
// by all columns, so the same id can be a user in one row and a namespace in another.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "storage/sqlite_util.h"

namespace ktrail::storage {

enum class TermColumn : std::int64_t { kUser = 1, kNamespace = 2, kResource = 3 };

constexpr int kTermIdBits = 48;

// The term of dictionary id `id` (> 0) in `column`.
constexpr std::int64_t term_of(TermColumn column, std::int64_t id) {
  return (static_cast<std::int64_t>(column) << kTermIdBits) | id;
}

// Appends the varint encoding of strictly increasing `keys` (first key not included: it is
// stored beside the blob) to `out`.
void encode_postings(const std::vector<std::int64_t>& keys, std::string* out);

// Decodes a postings blob of `count` keys starting at `first_key` and ending at `last_key`,
// appending to `keys`. A blob that does not hold exactly that (damaged store) is an error.
Status decode_postings(std::int64_t first_key, std::int64_t last_key, std::int64_t count,
                       std::string_view blob, std::vector<std::int64_t>* keys);

// Collects (term, key) pairs and writes them as postings rows, one per term. Keys of one term
// must be distinct; they may come in any order.
class PostingsBuilder {
 public:
  void add(std::int64_t term, std::int64_t key) { keys_[term].push_back(key); }
  std::size_t terms() const { return keys_.size(); }
  // Inserts one audit_postings row per term collected, then forgets them.
  Status write(sqlite::Db& db);

 private:
  std::unordered_map<std::int64_t, std::vector<std::int64_t>> keys_;
};

// Writes the postings of the rows `select_sql` returns, each (key, user_id, ns_id, resource_id)
// with NULL or 0 for none, one postings row per term every `rows_per_segment` rows. The merge
// reads audit_pending with it; migration 7 reads all of `audit`.
Status write_postings_of(sqlite::Db& db, const char* select_sql, std::size_t rows_per_segment);

}  // namespace ktrail::storage
