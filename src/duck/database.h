// duck::Database: the one DuckDB instance of a server, opened locked down (no network, no
// extension loading, file access only below the given directories) with in-memory catalogs
// attached for the write buffer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

struct _duckdb_database;

namespace riffle::duck {

struct DatabaseOptions {
  int threads = 0;                               // 0: DuckDB's default (the cores)
  std::vector<std::string> compressed_catalogs;  // in-memory catalogs to ATTACH ... (COMPRESS)
  std::vector<std::string> allowed_directories;  // the only directories SQL may read or write
  int64_t memory_limit_bytes = 0;                // 0: DuckDB's default (80% of RAM)
  std::string spill_directory;                   // where operators over the limit spill
};

class Database {
 public:
  static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

 private:
  friend class Connection;
  Database() = default;
  _duckdb_database* db_ = nullptr;
};

}  // namespace riffle::duck
