// Status and Result<T>: how components report failure across their boundaries.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace riffle {

// Error categories map onto HTTP statuses at the edge (see http/errors.cc).
enum class Code {
  kOk = 0,
  kInvalidArgument,   // 400
  kNotFound,          // 404
  kAlreadyExists,     // 409
  kConflict,          // 409/400 schema conflicts
  kLimitExceeded,     // 422
  kTooLarge,          // 413
  kUnsupportedMedia,  // 415
  kUnauthenticated,   // 401
  kForbidden,         // 403
  kIOError,           // 500
  kInternal,          // 500
  kUnavailable,       // 503
  kUnimplemented,     // 405
  kCancelled,         // 499: the client stopped waiting (cancel, deadline)
  kTimeout,           // 408: a server limit on the time an operation may take (--query-timeout)
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status LimitExceeded(std::string m) { return {Code::kLimitExceeded, std::move(m)}; }
  static Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {Code::kUnimplemented, std::move(m)}; }
  static Status Cancelled(std::string m) { return {Code::kCancelled, std::move(m)}; }
  static Status Timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

#define RIFFLE_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::riffle::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

// `lhs = value of expr` (a Result), or return its error.
#define RIFFLE_ASSIGN_OR_RETURN(lhs, expr) RIFFLE_ASSIGN_OR_RETURN_IMPL(RIFFLE_CONCAT(_result_, __LINE__), lhs, expr)
#define RIFFLE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
#define RIFFLE_CONCAT(a, b) RIFFLE_CONCAT_INNER(a, b)
#define RIFFLE_CONCAT_INNER(a, b) a##b

}  // namespace riffle
