// One audit event as the detection engine reads it: the decoded fields of core/audit_event.h,
// and the event's JSON parsed only when a rule asks for something the decoded fields do not
// hold (request and response objects, annotations). Extracted values are views into the event,
// the parsed document or the view's own arena; they live as long as the view.
#pragma once

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit_event.h"

namespace ktrail::detect {

class EventView {
 public:
  explicit EventView(const AuditEvent& event) : event_(event) {}
  EventView(const EventView&) = delete;
  EventView& operator=(const EventView&) = delete;

  const AuditEvent& event() const { return event_; }
  // The parsed event; nullptr when the JSON cannot be parsed.
  const rapidjson::Value* json();
  // Keeps `text` for the life of the view and returns a view of it.
  std::string_view keep(std::string text);
  // The response code as text ("403"), formatted once per view.
  std::string_view response_code_text();

 private:
  const AuditEvent& event_;
  bool parsed_ = false;
  bool parse_ok_ = false;
  std::unique_ptr<rapidjson::Document> doc_;  // made on first use: most events never need it
  std::vector<std::unique_ptr<std::string>> arena_;
  char code_[12] = {};
  std::size_t code_size_ = 0;
};

}  // namespace ktrail::detect
