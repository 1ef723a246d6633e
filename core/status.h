// The one error-handling convention of ktrail.
//
// Functions that can fail return `Status` (no value) or `Result<T>` (a value or a Status).
// Exceptions thrown by third-party libraries are caught at the boundary where they are
// called and turned into a Status; they never cross a module boundary.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ktrail {

enum class ErrorCode {
  kOk,
  kInvalidArgument,    // bad input from a user, a file or a request
  kParseError,         // malformed JSON, YAML or timestamp
  kNotFound,           // a file, an incident or a row that does not exist
  kIo,                 // the operating system said no
  kDatabase,           // SQLite reported an error
  kUnavailable,        // a dependency (queue, broker) cannot take work now; retry later
  kResourceExhausted,  // a bound (queue depth, body size) was reached
  kUnauthenticated,    // missing or wrong credentials
  kPermissionDenied,   // authenticated, but the operation is not allowed (e.g. SQL writes)
  kInternal,           // a bug: an invariant did not hold
};

const char* to_string(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool is_ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code>: <message>", for logs and CLI errors.
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string message) {
  return {ErrorCode::kInvalidArgument, std::move(message)};
}
inline Status parse_error(std::string message) {
  return {ErrorCode::kParseError, std::move(message)};
}
inline Status not_found(std::string message) { return {ErrorCode::kNotFound, std::move(message)}; }
inline Status io_error(std::string message) { return {ErrorCode::kIo, std::move(message)}; }
inline Status database_error(std::string message) {
  return {ErrorCode::kDatabase, std::move(message)};
}
inline Status unavailable(std::string message) {
  return {ErrorCode::kUnavailable, std::move(message)};
}
inline Status internal_error(std::string message) {
  return {ErrorCode::kInternal, std::move(message)};
}

// A value of type T, or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(data_).is_ok());
  }

  bool is_ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return is_ok(); }

  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace ktrail

// Propagates a failed Status from an expression returning Status.
#define KTRAIL_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::ktrail::Status ktrail_status_ = (expr); \
    if (!ktrail_status_.is_ok()) {            \
      return ktrail_status_;                  \
    }                                         \
  } while (false)
