#include "app/audit_stream.h"

#include <cerrno>
#include <cstdio>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "query/request_stages.h"

namespace ktrail::app {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// The text fields of a row (const or not), in the order the spill keeps them.
template <typename Row>
auto texts(Row& r) {
  return std::array{&r.cluster,    &r.audit_id,          &r.verb,       &r.user,
                    &r.groups,     &r.impersonated_user, &r.resource,   &r.subresource,
                    &r.namespace_, &r.name,              &r.source_ips, &r.user_agent,
                    &r.event};
}

// Pages of events in an unnamed temporary file: written newest page first, read back oldest
// page first. Writing and reading the file is a large part of a long answer's cost, so rows are
// kept small: numbers as variable-length integers (times as differences), and a text equal to
// the same field of the row before it in the page as one byte.
class Spill {
 public:
  Status open() {
    file_.reset(std::tmpfile());
    if (!file_) {
      return io_error(std::string("cannot create a temporary file for the answer: ") +
                      std::strerror(errno));
    }
    return Status::ok();
  }

  Status write_page(const std::vector<StoredAudit>& rows) {
    buffer_.clear();
    const StoredAudit* before = nullptr;
    for (const StoredAudit& r : rows) {
      put(r.time - (before != nullptr ? before->time : 0));
      put(r.time - r.received);
      put(static_cast<std::int64_t>(r.stage));
      put(static_cast<std::int64_t>(r.level));
      put(static_cast<std::int64_t>(r.level_received));
      put(r.code);
      const auto now = texts(r);
      for (std::size_t i = 0; i < now.size(); ++i) {
        if (before != nullptr && *now[i] == *texts(*before)[i]) {
          put(0);  // as in the row before
          continue;
        }
        put(static_cast<std::int64_t>(now[i]->size()) + 1);
        buffer_.append(*now[i]);
      }
      before = &r;
    }
    pages_.push_back({offset_, buffer_.size(), rows.size()});
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_.get()) != buffer_.size()) {
      return io_error(std::string("cannot write the temporary file of the answer: ") +
                      std::strerror(errno));
    }
    offset_ += buffer_.size();
    return Status::ok();
  }

  // Every event, oldest first.
  Status replay(const std::function<Status(const StoredAudit&)>& each) {
    if (std::fflush(file_.get()) != 0) {
      return io_error("cannot write the temporary file of the answer");
    }
    StoredAudit r;
    for (auto page = pages_.rbegin(); page != pages_.rend(); ++page) {
      buffer_.resize(page->bytes);
      if (std::fseek(file_.get(), static_cast<long>(page->offset), SEEK_SET) != 0 ||
          std::fread(buffer_.data(), 1, page->bytes, file_.get()) != page->bytes) {
        return io_error("cannot read back the temporary file of the answer");
      }
      read_at_ = 0;
      for (std::size_t i = 0; i < page->rows; ++i) {
        // `r` still holds the row before, whose texts a row may repeat.
        r.time = (i == 0 ? 0 : r.time) + get();
        r.received = r.time - get();
        r.stage = static_cast<Stage>(get());
        r.level = static_cast<Level>(get());
        r.level_received = static_cast<Level>(get());
        r.code = static_cast<int>(get());
        for (std::string* s : texts(r)) {
          const auto n = static_cast<std::size_t>(get());
          if (n > 0) {
            s->assign(buffer_, read_at_, n - 1);
            read_at_ += n - 1;
          }
        }
        KTRAIL_RETURN_IF_ERROR(each(r));
      }
    }
    return Status::ok();
  }

 private:
  struct Page {
    std::size_t offset;
    std::size_t bytes;
    std::size_t rows;
  };
  // Zigzag, then 7 bits a byte.
  void put(std::int64_t v) {
    auto u = (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
    while (u >= 0x80) {
      buffer_.push_back(static_cast<char>(u | 0x80));
      u >>= 7;
    }
    buffer_.push_back(static_cast<char>(u));
  }
  std::int64_t get() {
    std::uint64_t u = 0;
    for (int shift = 0;; shift += 7) {
      const auto byte = static_cast<unsigned char>(buffer_[read_at_++]);
      u |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if (byte < 0x80) {
        break;
      }
    }
    return static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
  }

  File file_;
  std::string buffer_;
  std::size_t read_at_ = 0;
  std::size_t offset_ = 0;
  std::vector<Page> pages_;
};

}  // namespace

Status stream_audit(ShardSet& shards, const AuditFilter& filter, const AuditStreamOptions& options,
                    std::size_t* matched, const std::function<Status(const StoredAudit&)>& each) {
  const std::size_t page_rows = std::max<std::size_t>(options.page_rows, 1);
  const bool thin = options.last_stage_only;
  if (!thin && filter.limit > 0 && filter.limit <= page_rows) {
    auto rows = shards.find_audit(filter, matched);
    if (!rows) {
      return rows.status();
    }
    for (const StoredAudit& r : *rows) {
      KTRAIL_RETURN_IF_ERROR(each(r));
    }
    return Status::ok();
  }
  query::LastStagePicker picker;
  Spill spill;
  bool spilling = false;
  const bool limited = filter.limit > 0;
  std::size_t remaining = filter.limit;
  std::size_t emitted = 0;
  bool more = false;  // thinned: a request older than those kept exists
  // Thins a batch and cuts it to the limit (the oldest go).
  auto take = [&](std::vector<StoredAudit>* rows) {
    if (thin) {
      picker.pick(rows);
    }
    if (limited && rows->size() > remaining) {
      more = true;
      rows->erase(rows->begin(), rows->begin() + static_cast<std::ptrdiff_t>(rows->size() - remaining));
    }
    if (limited) {
      remaining -= rows->size();
    }
    emitted += rows->size();
  };
  auto keep = [&](std::vector<StoredAudit>* rows) -> Status {
    take(rows);
    if (rows->empty()) {
      return Status::ok();
    }
    if (!spilling) {
      KTRAIL_RETURN_IF_ERROR(spill.open());
      spilling = true;
    }
    return spill.write_page(*rows);
  };
  // Whether the answer is complete: the limit is reached (and, thinned, a request beyond it was
  // seen, so that `matched` can tell that some were left out).
  auto done = [&] { return limited && remaining == 0 && (!thin || more); };
  auto page_size = [&]() -> std::size_t {
    if (!limited) {
      return page_rows;
    }
    if (!thin) {
      return std::min(page_rows, remaining);
    }
    // Thinned pages lose up to three rows in four; past the limit, a small page is enough to
    // find one more request.
    return std::min(page_rows, remaining > 0 ? 2 * remaining + 64 : std::size_t{256});
  };
  auto count = [&] {
    if (matched != nullptr && (thin || !limited)) {
      *matched = emitted + (more ? 1 : 0);
    }
  };
  AuditFilter page = filter;
  bool first = true;
  for (;;) {
    page.limit = page_size();
    auto rows = shards.find_audit(page, first && !thin ? matched : nullptr);
    if (!rows) {
      return rows.status();
    }
    if (rows->size() < page.limit) {
      // The rest of the answer: nothing older is left.
      if (first) {
        take(&*rows);
        count();
        for (const StoredAudit& r : *rows) {
          KTRAIL_RETURN_IF_ERROR(each(r));
        }
        return Status::ok();
      }
      KTRAIL_RETURN_IF_ERROR(keep(&*rows));
      break;
    }
    first = false;
    // The page may have cut through the events of its oldest time: those are read whole, on
    // their own (in the order a single read gives them), and the next page ends just before.
    const Micros oldest = rows->front().time;
    std::size_t at_oldest = 0;
    while (at_oldest < rows->size() && (*rows)[at_oldest].time == oldest) {
      ++at_oldest;
    }
    rows->erase(rows->begin(), rows->begin() + static_cast<std::ptrdiff_t>(at_oldest));
    KTRAIL_RETURN_IF_ERROR(keep(&*rows));
    if (done()) {
      break;
    }
    AuditFilter instant = filter;
    instant.since = oldest;
    instant.until = oldest;
    // Thinned, the whole instant is read: its stages are ranked against each other.
    instant.limit = thin ? 0 : remaining;
    auto crowd = shards.find_audit(instant);
    if (!crowd) {
      return crowd.status();
    }
    KTRAIL_RETURN_IF_ERROR(keep(&*crowd));
    if (done() || (filter.since && oldest <= *filter.since)) {
      break;
    }
    page.until = oldest - 1;
  }
  count();
  return spilling ? spill.replay(each) : Status::ok();
}

}  // namespace ktrail::app
