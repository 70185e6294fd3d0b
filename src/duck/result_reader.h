// Internal to duck/: DuckDB data chunks converted into columnar batches of values.
#pragma once

#include <duckdb.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "duck/value.h"

namespace riffle::duck {

class ChunkReader {
 public:
  explicit ChunkReader(duckdb_result* result);  // reads the result's column names and types
  ~ChunkReader();
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  const std::vector<std::string>& names() const { return names_; }
  Status Read(duckdb_data_chunk chunk, Batch* out) const;

 private:
  std::vector<std::string> names_;
  std::vector<duckdb_logical_type> types_;
  std::vector<duckdb_type> ids_;
};

}  // namespace riffle::duck
