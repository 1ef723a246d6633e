#include "storage/postings.h"

#include <algorithm>

namespace ktrail::storage {
namespace {

constexpr const char* kInsertPostings =
    "INSERT INTO audit_postings(term, last_key, first_key, count, keys) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";

Status damaged(std::string_view what) {
  return database_error("audit postings are damaged: " + std::string(what));
}

}  // namespace

void encode_postings(const std::vector<std::int64_t>& keys, std::string* out) {
  for (std::size_t i = 1; i < keys.size(); ++i) {
    auto delta = static_cast<std::uint64_t>(keys[i] - keys[i - 1]);
    while (delta >= 0x80) {
      out->push_back(static_cast<char>((delta & 0x7f) | 0x80));
      delta >>= 7;
    }
    out->push_back(static_cast<char>(delta));
  }
}

Status decode_postings(std::int64_t first_key, std::int64_t last_key, std::int64_t count,
                       std::string_view blob, std::vector<std::int64_t>* keys) {
  if (count < 1 || first_key > last_key || (count == 1) != (first_key == last_key)) {
    return damaged("a row's key range does not match its count");
  }
  keys->push_back(first_key);
  std::int64_t key = first_key;
  std::size_t at = 0;
  for (std::int64_t i = 1; i < count; ++i) {
    std::uint64_t delta = 0;
    for (int shift = 0;; shift += 7) {
      if (at == blob.size() || shift > 63) {
        return damaged("a key list ends early or holds an overlong number");
      }
      const auto byte = static_cast<unsigned char>(blob[at++]);
      if (shift == 63 && byte > 1) {
        return damaged("a key list holds a number over 64 bits");
      }
      delta |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        break;
      }
    }
    if (delta == 0 || delta > static_cast<std::uint64_t>(last_key - key)) {
      return damaged("a key list is not increasing within its range");
    }
    key += static_cast<std::int64_t>(delta);
    keys->push_back(key);
  }
  if (at != blob.size() || key != last_key) {
    return damaged("a key list does not end at its last key");
  }
  return Status::ok();
}

Status PostingsBuilder::write(sqlite::Db& db) {
  if (keys_.empty()) {
    return Status::ok();
  }
  auto insert = sqlite::Stmt::prepare(db, kInsertPostings);
  if (!insert) {
    return insert.status();
  }
  // In term order: each row goes to its term's place in the tree, visited once.
  std::vector<std::int64_t> terms;
  terms.reserve(keys_.size());
  for (const auto& entry : keys_) {
    terms.push_back(entry.first);
  }
  std::sort(terms.begin(), terms.end());
  std::string blob;
  for (const std::int64_t term : terms) {
    std::vector<std::int64_t>& keys = keys_[term];
    std::sort(keys.begin(), keys.end());
    if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) {
      return internal_error("a key was added twice to the postings of one term");
    }
    blob.clear();
    encode_postings(keys, &blob);
    insert->bind(1, term);
    insert->bind(2, keys.back());
    insert->bind(3, keys.front());
    insert->bind(4, static_cast<std::int64_t>(keys.size()));
    insert->bind_blob(5, blob.data(), blob.size());
    const int rc = insert->step();
    insert->reset();
    if (rc != SQLITE_DONE) {
      return db.error("insert audit postings");
    }
  }
  keys_.clear();
  return Status::ok();
}

Status write_postings_of(sqlite::Db& db, const char* select_sql, std::size_t rows_per_segment) {
  auto select = sqlite::Stmt::prepare(db, select_sql);
  if (!select) {
    return select.status();
  }
  PostingsBuilder builder;
  std::size_t rows = 0;
  int rc;
  while ((rc = select->step()) == SQLITE_ROW) {
    const std::int64_t key = select->column_int(0);
    const TermColumn columns[] = {TermColumn::kUser, TermColumn::kNamespace, TermColumn::kResource};
    for (int c = 0; c < 3; ++c) {
      const std::int64_t id = select->column_int(c + 1);  // NULL reads as 0
      if (id > 0) {
        builder.add(term_of(columns[c], id), key);
      }
    }
    if (++rows == rows_per_segment) {
      KTRAIL_RETURN_IF_ERROR(builder.write(db));
      rows = 0;
    }
  }
  if (rc != SQLITE_DONE) {
    return db.error("read audit rows for their postings");
  }
  select->reset();
  return builder.write(db);
}

}  // namespace ktrail::storage
