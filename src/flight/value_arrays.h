// Arrow arrays built from query values, for results that DuckDB does not export itself:
// InfluxQL's series and the Flight SQL metadata tables.
#pragma once

#include <string>
#include <vector>

#include "duck/arrow_c.h"
#include "query/value.h"

namespace riffle::flight {

// The Arrow format a value travels as: Utf8, Int64, UInt64, Float64, Bool, Timestamp(ns);
// null for a NULL.
const char* FormatOfValue(const query::Value& v);

// Rows of values collected column by column into Arrow buffers. Array() views them as a struct
// array (valid until the next Add or Clear; its release does nothing).
class ValueArrays {
 public:
  explicit ValueArrays(std::vector<std::string> formats);
  const std::vector<std::string>& formats() const { return formats_; }
  // Appends one row; a value of another type than its column's is sent as NULL (or as its text
  // in a Utf8 column).
  void AddRow(const std::vector<query::Value>& row);
  size_t rows() const { return rows_; }
  const ArrowArray& Array();
  void Clear();

 private:
  struct Column {
    std::vector<uint8_t> validity;
    std::string data;  // fixed-width values, bool bits, or string bytes
    std::vector<int32_t> offsets{0};
    int64_t nulls = 0;
    const void* buffers[3] = {nullptr, nullptr, nullptr};
    ArrowArray array{};
  };
  void Add(Column& c, const std::string& format, const query::Value& v);
  std::vector<std::string> formats_;
  std::vector<Column> columns_;
  std::vector<ArrowArray*> children_;
  ArrowArray struct_{};
  const void* struct_buffers_[1] = {nullptr};
  size_t rows_ = 0;
};

}  // namespace riffle::flight
