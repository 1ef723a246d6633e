#include "core/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace ktrail::json {
namespace {

// Counts nesting while forwarding every event to the document's handler.
class DepthLimiter : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, DepthLimiter> {
 public:
  explicit DepthLimiter(rapidjson::Document* doc) : doc_(doc) {}
  bool Null() { return doc_->Null(); }
  bool Bool(bool b) { return doc_->Bool(b); }
  bool Int(int i) { return doc_->Int(i); }
  bool Uint(unsigned i) { return doc_->Uint(i); }
  bool Int64(int64_t i) { return doc_->Int64(i); }
  bool Uint64(uint64_t i) { return doc_->Uint64(i); }
  bool Double(double d) { return doc_->Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return doc_->RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_->String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_->Key(s, n, copy); }
  bool StartObject() { return ++depth_ <= kMaxDepth && doc_->StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return doc_->EndObject(n);
  }
  bool StartArray() { return ++depth_ <= kMaxDepth && doc_->StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return doc_->EndArray(n);
  }
  bool too_deep() const { return depth_ > kMaxDepth; }

 private:
  rapidjson::Document* doc_;
  unsigned depth_ = 0;
};

}  // namespace

Status parse(std::string_view text, rapidjson::Document* doc) {
  constexpr unsigned kFlags =
      rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseValidateEncodingFlag;
  rapidjson::ParseResult result;
  bool too_deep = false;
  std::size_t end = 0;
  // The document is filled through a depth-counting handler, so hostile nesting is refused
  // before it can exhaust the stack.
  auto generate = [&](rapidjson::Document& handler) {
    DepthLimiter limiter(&handler);
    rapidjson::Reader reader;
    rapidjson::MemoryStream ms(text.data(), text.size());
    result = reader.Parse<kFlags>(ms, limiter);
    end = ms.Tell();
    too_deep = limiter.too_deep();
    return !result.IsError();
  };
  doc->SetNull();
  doc->Populate(generate);
  if (too_deep) {
    return parse_error("JSON nested deeper than " + std::to_string(kMaxDepth) +
                       " levels at offset " + std::to_string(result.Offset()));
  }
  if (result.IsError()) {
    return parse_error(std::string("invalid JSON at offset ") + std::to_string(result.Offset()) +
                       ": " + rapidjson::GetParseError_En(result.Code()));
  }
  // Only white space may follow the value.
  std::size_t pos = end;
  while (pos < text.size() &&
         (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\r' || text[pos] == '\t')) {
    ++pos;
  }
  if (pos != text.size()) {
    return parse_error("invalid JSON at offset " + std::to_string(pos) +
                       ": unexpected data after the JSON value");
  }
  return Status::ok();
}

std::string to_compact(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

std::string_view get_string(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) {
    return {};
  }
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) {
    return {};
  }
  return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace ktrail::json
