#include "detect/event_view.h"

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

}  // namespace ktrail::detect
