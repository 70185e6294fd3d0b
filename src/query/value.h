// Values of query results and whole materialised results.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace riffle::query {

struct Timestamp {
  int64_t ns;
};
// A result cell. Tags and strings are std::string; time-like values are Timestamp.
using Value = std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Timestamp>;

// A whole result, row by row: for callers that need every row at once (plugins get a list,
// InfluxQL groups series). Everything else reads a ResultStream.
struct QueryResult {
  std::vector<std::string> column_names;
  std::vector<std::vector<Value>> rows;
};

}  // namespace riffle::query
