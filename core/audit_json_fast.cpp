#include "core/audit_json_fast.h"

#include <rapidjson/reader.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/audit_json_fields.h"
#include "core/json.h"

namespace ktrail::fast_audit {
namespace {

// What the value being read belongs to.
enum class Ctx : std::uint8_t {
  kIgnored,        // inside something no field is read from
  kTop,            // the document's top object: an EventList or a single Event
  kItems,          // the EventList's items, or a top-level array of events
  kEvent,          // an Event object
  kUser,           // .user
  kImpersonated,   // .impersonatedUser
  kGroups,         // .user.groups
  kImpGroups,      // .impersonatedUser.groups
  kSourceIps,      // .sourceIPs
  kObjectRef,      // .objectRef
  kResponseStatus  // .responseStatus
};

struct EventState {
  AuditEvent event;
  std::uint64_t seen = 0;
  bool ok = true;
  std::size_t start = 0;  // offset of the event's '{'

  void reset(std::size_t at) {
    event = AuditEvent();
    seen = 0;
    ok = true;
    start = at;
  }
  bool has(Field f) const { return (seen >> f & 1u) != 0; }
};

enum class Mode { kLine, kDocument };

// What the next value fills.
enum class Slot {
  kTopLevel,  // the document itself
  kItem,      // an element of the items
  kElement,   // a string of groups or sourceIPs
  kIgnored,   // nothing read
  kField,     // the field `pending_`
};

// The streaming handler. Returning false stops the parse: the whole text is then declined.
class Handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Handler> {
 public:
  Handler(Mode mode, std::string_view text, DocumentResult* doc)
      : mode_(mode), text_(text), doc_(doc) {
    stack_.reserve(16);
  }
  void set_stream(rapidjson::InsituStringStream* stream) { stream_ = stream; }

  bool Null() {
    switch (slot()) {
      case Slot::kTopLevel:
      case Slot::kItem:
        return false;
      case Slot::kElement:
        return fail();
      case Slot::kIgnored:
        return true;
      case Slot::kField:
        break;
    }
    if (pending_ == kItemsField) {
      return false;
    }
    // A null object counts as absent, as in the document path; any other null is declined.
    return pending_ == kRequestObject || pending_ == kResponseObject || fail();
  }
  bool Bool(bool) { return other_scalar(); }
  bool Int(int i) { return integer(i); }
  bool Uint(unsigned u) {
    return u <= static_cast<unsigned>(INT_MAX) ? integer(static_cast<int>(u)) : other_scalar();
  }
  bool Int64(std::int64_t) { return other_scalar(); }
  bool Uint64(std::uint64_t) { return other_scalar(); }
  bool Double(double) { return other_scalar(); }
  bool String(const char* s, rapidjson::SizeType n, bool) { return string({s, n}); }

  bool Key(const char* s, rapidjson::SizeType n, bool) {
    const std::string_view k(s, n);
    pending_ = kNone;
    switch (stack_.back()) {
      case Ctx::kTop:
        pending_ = k == "items" ? kItemsField : k == "kind" ? kTopKind : event_field(k);
        break;
      case Ctx::kEvent:
        pending_ = event_field(k);
        break;
      case Ctx::kUser:
        pending_ = user_field(k, false);
        break;
      case Ctx::kImpersonated:
        pending_ = user_field(k, true);
        break;
      case Ctx::kObjectRef:
        pending_ = object_ref_field(k);
        break;
      case Ctx::kResponseStatus:
        pending_ = k == "code" ? kCode : kNone;
        break;
      default:
        break;
    }
    if (pending_ != kNone && pending_ != kItemsField) {
      if (current_->has(pending_)) {
        return fail();
      }
      current_->seen |= std::uint64_t{1} << pending_;
    }
    return true;
  }

  bool StartObject() {
    if (stack_.size() >= json::kMaxDepth) {
      return false;
    }
    Ctx next = Ctx::kIgnored;
    switch (slot()) {
      case Slot::kTopLevel:
        current_ = &top_;
        top_.reset(stream_->Tell() - 1);
        next = mode_ == Mode::kLine ? Ctx::kEvent : Ctx::kTop;
        break;
      case Slot::kItem:
        current_ = &item_;
        item_.reset(stream_->Tell() - 1);
        next = Ctx::kEvent;
        break;
      case Slot::kElement:
        if (!fail()) {
          return false;
        }
        break;
      case Slot::kIgnored:
        break;
      case Slot::kField:
        switch (pending_) {
          case kItemsField:
            return false;  // items that are not an array: the document path says so
          case kUserField:
            next = Ctx::kUser;
            break;
          case kImpersonatedField:
            current_->event.impersonated_user.emplace();
            next = Ctx::kImpersonated;
            break;
          case kObjectRefField:
            current_->event.object_ref.emplace();
            next = Ctx::kObjectRef;
            break;
          case kResponseStatusField:
            next = Ctx::kResponseStatus;
            break;
          case kRequestObject:
          case kResponseObject:
            mark_object_field();
            break;
          default:
            if (!fail()) {
              return false;
            }
            break;
        }
        break;
    }
    stack_.push_back(next);
    pending_ = kNone;
    return true;
  }

  bool EndObject(rapidjson::SizeType) {
    const Ctx done = stack_.back();
    stack_.pop_back();
    if (done == Ctx::kEvent && !stack_.empty()) {
      finish_item();
      current_ = &top_;
    }
    if (stack_.empty()) {
      end_ = stream_->Tell();
    }
    pending_ = kNone;
    return true;
  }

  bool StartArray() {
    if (stack_.size() >= json::kMaxDepth) {
      return false;
    }
    Ctx next = Ctx::kIgnored;
    switch (slot()) {
      case Slot::kTopLevel:
        if (mode_ == Mode::kLine) {
          return false;
        }
        next = Ctx::kItems;
        items_seen_ = true;
        break;
      case Slot::kItem:
        return false;  // an item that is not an object: the document path rejects it
      case Slot::kElement:
        if (!fail()) {
          return false;
        }
        break;
      case Slot::kIgnored:
        break;
      case Slot::kField:
        switch (pending_) {
          case kItemsField:
            if (items_seen_) {
              return false;
            }
            next = Ctx::kItems;
            items_seen_ = true;
            break;
          case kSourceIpsField:
            next = Ctx::kSourceIps;
            break;
          case kGroupsField:
            next = Ctx::kGroups;
            break;
          case kImpGroupsField:
            next = Ctx::kImpGroups;
            break;
          case kRequestObject:
          case kResponseObject:
            mark_object_field();
            break;
          default:
            if (!fail()) {
              return false;
            }
            break;
        }
        break;
    }
    stack_.push_back(next);
    pending_ = kNone;
    return true;
  }

  bool EndArray(rapidjson::SizeType) {
    stack_.pop_back();
    if (stack_.empty()) {
      end_ = stream_->Tell();
    }
    pending_ = kNone;
    return true;
  }

  // After the parse: the end of the top value, whether an EventList's items were seen, and the
  // top object's event state (a single Event, or the line's event).
  std::size_t end() const { return end_; }
  bool items_seen() const { return items_seen_; }
  bool top_is_event_list() const { return top_is_event_list_; }
  EventState& top() { return top_; }

  // Checks an event's required fields and its text; false declines it.
  static bool complete(EventState& s, std::string_view span) {
    if (!s.ok || s.event.audit_id.empty() || !s.has(kStage) || !s.has(kLevel) ||
        !s.has(kReceived) || !s.has(kStageTime) || !json::is_compact_object(span)) {
      return false;
    }
    s.event.json.assign(span);
    return true;
  }

 private:
  Slot slot() const {
    if (stack_.empty()) {
      return Slot::kTopLevel;
    }
    switch (stack_.back()) {
      case Ctx::kItems:
        return Slot::kItem;
      case Ctx::kGroups:
      case Ctx::kImpGroups:
      case Ctx::kSourceIps:
        return Slot::kElement;
      case Ctx::kIgnored:
        return Slot::kIgnored;
      default:
        return pending_ == kNone ? Slot::kIgnored : Slot::kField;
    }
  }

  void mark_object_field() {
    if (pending_ == kRequestObject) {
      current_->event.has_request_object = true;
    } else if (pending_ == kResponseObject) {
      current_->event.has_response_object = true;
    }
  }

  // Declines the current event. Returns whether to read on: an item or a document's top
  // object (which may turn out to be an EventList) is declined alone; a line's event ends it.
  bool fail() {
    current_->ok = false;
    return current_ != &top_ || mode_ == Mode::kDocument;
  }

  // A number (other than responseStatus.code) or a boolean.
  bool other_scalar() {
    switch (slot()) {
      case Slot::kTopLevel:
      case Slot::kItem:
        return false;
      case Slot::kElement:
        return fail();
      case Slot::kIgnored:
        return true;
      case Slot::kField:
        break;
    }
    if (pending_ == kItemsField) {
      return false;
    }
    if (pending_ == kRequestObject || pending_ == kResponseObject) {
      mark_object_field();
      return true;
    }
    return fail();
  }

  bool integer(int value) {
    if (slot() == Slot::kField && pending_ == kCode) {
      current_->event.response_code = value;
      return true;
    }
    return other_scalar();
  }

  bool string(std::string_view v) {
    AuditEvent& e = current_->event;
    switch (slot()) {
      case Slot::kTopLevel:
      case Slot::kItem:
        return false;
      case Slot::kIgnored:
        return true;
      case Slot::kElement:
        switch (stack_.back()) {
          case Ctx::kGroups:
            e.user.groups.emplace_back(v);
            break;
          case Ctx::kImpGroups:
            e.impersonated_user->groups.emplace_back(v);
            break;
          default:
            e.source_ips.emplace_back(v);
            break;
        }
        return true;
      case Slot::kField:
        break;
    }
    switch (pending_) {
      case kItemsField:
        return false;
      case kTopKind:
        top_is_event_list_ = v == "EventList";
        return true;
      case kAuditId:
        e.audit_id.assign(v);
        return true;
      case kStage: {
        auto stage = parse_stage(v);
        if (!stage) {
          return fail();
        }
        e.stage = *stage;
        return true;
      }
      case kLevel: {
        bool known = false;
        e.level = parse_level(v, &known);
        e.level_received = e.level;
        return known || fail();
      }
      case kVerb:
        e.verb.assign(v);
        return true;
      case kRequestUri:
        e.request_uri.assign(v);
        return true;
      case kUserAgent:
        e.user_agent.assign(v);
        return true;
      case kReceived:
      case kStageTime: {
        auto t = parse_rfc3339(v);
        if (!t) {
          return fail();
        }
        (pending_ == kReceived ? e.request_received : e.stage_time) = *t;
        return true;
      }
      case kRequestObject:
      case kResponseObject:
        mark_object_field();
        return true;
      case kUsername:
        e.user.username.assign(v);
        return true;
      case kUid:
        e.user.uid.assign(v);
        return true;
      case kImpUsername:
        e.impersonated_user->username.assign(v);
        return true;
      case kImpUid:
        e.impersonated_user->uid.assign(v);
        return true;
      case kResource:
        e.object_ref->resource.assign(v);
        return true;
      case kNamespace:
        e.object_ref->namespace_.assign(v);
        return true;
      case kName:
        e.object_ref->name.assign(v);
        return true;
      case kObjectUid:
        e.object_ref->uid.assign(v);
        return true;
      case kApiGroup:
        e.object_ref->api_group.assign(v);
        return true;
      case kApiVersion:
        e.object_ref->api_version.assign(v);
        return true;
      case kResourceVersion:
        e.object_ref->resource_version.assign(v);
        return true;
      case kSubresource:
        e.object_ref->subresource.assign(v);
        return true;
      default:
        return fail();  // a string where an object, an array or a number belongs
    }
  }

  void finish_item() {
    const std::string_view span = text_.substr(item_.start, stream_->Tell() - item_.start);
    DocumentResult::Item item;
    if (complete(item_, span)) {
      item.event = std::move(item_.event);
    } else {
      item.is_slow = true;
      item.slow = span;
    }
    doc_->items.push_back(std::move(item));
  }

  const Mode mode_;
  const std::string_view text_;
  rapidjson::InsituStringStream* stream_ = nullptr;
  DocumentResult* doc_;
  std::vector<Ctx> stack_;
  Field pending_ = kNone;
  EventState top_;
  EventState item_;
  EventState* current_ = &top_;
  std::size_t end_ = 0;
  bool items_seen_ = false;
  bool top_is_event_list_ = false;
};

bool only_space_after(std::string_view text, std::size_t end) {
  for (std::size_t i = end; i < text.size(); ++i) {
    const char c = text[i];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      return false;
    }
  }
  return true;
}

// The copy of a text that is parsed in place, kept per thread so its memory is reused. RapidJSON's
// SSE2 scanners read the string 16 bytes at a time with aligned loads, up to 15 bytes past the
// terminating NUL: the buffer holds that many zero bytes more, so every read is inside it.
class ScratchBuffer {
 public:
  char* copy_of(std::string_view text) {
    const std::size_t need = text.size() + 1 + kPadding;
    if (buffer_.size() < need) {
      buffer_.resize(need);
    }
    std::memcpy(buffer_.data(), text.data(), text.size());
    std::memset(buffer_.data() + text.size(), 0, 1 + kPadding);
    return buffer_.data();
  }

 private:
  static constexpr std::size_t kPadding = 16;
  std::vector<char> buffer_;
};

ScratchBuffer& scratch() {
  thread_local ScratchBuffer buffer;
  return buffer;
}

// Runs the handler over `text`, parsed in place in a copy (strings are then read where they lie
// instead of being copied out one by one); false when the text did not parse or a handler
// declined. Offsets in the copy are offsets in `text`: parsing in place only rewrites the
// inside of strings. The text is checked first (json::check_text), which also refuses the raw
// control characters 0x1A-0x1F that RapidJSON's SSE2 string scanner would let through, and NUL
// bytes (which would end the copy early).
bool run(Handler& handler, std::string_view text) {
  if (json::check_text(text).kind != json::TextCheck::kOk) {
    return false;
  }
  rapidjson::InsituStringStream stream(scratch().copy_of(text));
  handler.set_stream(&stream);
  rapidjson::Reader reader;
  const rapidjson::ParseResult result =
      reader.Parse<rapidjson::kParseInsituFlag | rapidjson::kParseStopWhenDoneFlag>(stream,
                                                                                    handler);
  return !result.IsError() && handler.end() <= text.size() && only_space_after(text, handler.end());
}

}  // namespace

bool decode_line(std::string_view line, AuditEvent* event) {
  Handler handler(Mode::kLine, line, nullptr);
  if (!run(handler, line)) {
    return false;
  }
  EventState& top = handler.top();
  if (!Handler::complete(top, line.substr(top.start, handler.end() - top.start))) {
    return false;
  }
  *event = std::move(top.event);
  return true;
}

bool decode_document(std::string_view text, DocumentResult* out) {
  out->items.clear();
  Handler handler(Mode::kDocument, text, out);
  if (!run(handler, text)) {
    return false;
  }
  if (handler.items_seen()) {
    return true;
  }
  if (handler.top_is_event_list()) {
    return true;  // an EventList without items: no event, as on the document path
  }
  // No items: a single Event.
  EventState& top = handler.top();
  if (!Handler::complete(top, text.substr(top.start, handler.end() - top.start))) {
    return false;
  }
  DocumentResult::Item item;
  item.event = std::move(top.event);
  out->items.push_back(std::move(item));
  return true;
}

}  // namespace ktrail::fast_audit
