// Values as DuckDB results carry them into Riffle, and columnar batches of them: the type
// mapping of the DuckDB seam, shared by query results and virtual tables.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace riffle::duck {

struct Timestamp {
  int64_t ns;
  bool operator==(const Timestamp&) const = default;
};
// A result cell. Tags and strings are std::string; time-like values are Timestamp.
using Value = std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Timestamp>;

// Up to one DuckDB vector (2,048 rows) of a result, column by column.
struct Batch {
  size_t rows = 0;
  std::vector<std::vector<Value>> columns;  // columns[c][r]
  const Value& at(size_t row, size_t column) const { return columns[column][row]; }
};

// Column types of the tables Riffle creates (buffer tables, virtual tables).
enum class ColumnKind { kVarchar, kBigint, kUBigint, kDouble, kBoolean, kTimestampNs };
const char* SqlTypeName(ColumnKind kind);

}  // namespace riffle::duck
