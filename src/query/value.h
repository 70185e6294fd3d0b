// Values of query results and whole materialised results.
#pragma once

#include <string>
#include <vector>

#include "duck/value.h"

namespace riffle::query {

using duck::Timestamp;
using duck::Value;

// A whole result, row by row: for callers that need every row at once (plugins get a list,
// InfluxQL groups series). Everything else reads a ResultStream.
struct QueryResult {
  std::vector<std::string> column_names;
  std::vector<std::vector<Value>> rows;
};

}  // namespace riffle::query
