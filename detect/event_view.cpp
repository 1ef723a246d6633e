#include "detect/event_view.h"

#include <charconv>

#include "core/json.h"

namespace ktrail::detect {

const rapidjson::Value* EventView::json() {
  if (!parsed_) {
    parsed_ = true;
    doc_ = std::make_unique<rapidjson::Document>();
    parse_ok_ = json::parse(event_.json, doc_.get()).is_ok() && doc_->IsObject();
  }
  return parse_ok_ ? doc_.get() : nullptr;
}

std::string_view EventView::keep(std::string text) {
  arena_.push_back(std::make_unique<std::string>(std::move(text)));
  return *arena_.back();
}

std::string_view EventView::response_code_text() {
  if (code_size_ == 0) {
    const auto r = std::to_chars(code_, code_ + sizeof(code_), event_.response_code);
    code_size_ = static_cast<std::size_t>(r.ptr - code_);
  }
  return {code_, code_size_};
}

}  // namespace ktrail::detect
