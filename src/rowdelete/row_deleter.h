// rowdelete: deleting rows by time range and tags, in every form clients send it —
// `influxdb3 delete rows` and /api/v3/row_delete_requests (InfluxDB 3 Enterprise), InfluxDB 2's
// POST /api/v2/delete, InfluxQL's DELETE. A delete is checked against the catalog, written to
// the WAL between the writes (wal::RowDelete), applied to the buffer by that flush and to the
// Parquet files by the persister; the caller gets its answer once both are done, so deleted rows
// are gone from queries when it returns and never come back after a restart.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "persist/persister.h"
#include "query/query.h"
#include "rowdelete/predicate.h"
#include "wal/wal.h"

namespace riffle::rowdelete {

// What to delete: the rows of `table` (every table of the database when empty) with
// min_time <= time <= max_time whose tags equal every one of `tags`.
struct DeleteSpec {
  std::string db;
  std::string table;
  int64_t min_time = INT64_MIN, max_time = INT64_MAX;
  TagEquals tags;
  std::string predicate;  // as the user wrote it
};

class RowDeleter {
 public:
  RowDeleter(catalog::Catalog* catalog, wal::Wal* wal, persist::Persister* persister)
      : catalog_(catalog), wal_(wal), persister_(persister) {}

  // Deletes are refused, with `reason`, on a node that does not own its data alone (a cluster).
  void Refuse(std::string reason) { refused_ = std::move(reason); }
  // Called after rows of (database, table) were deleted: caches built from rows refill.
  void OnDeleted(std::function<void(const std::string& db, const std::string& table)> f) {
    on_deleted_ = std::move(f);
  }

  // Applies `spec` and returns one record per table it covered, completed unless removing the
  // rows from Parquet files failed (the persister retries; the record says why).
  Result<std::vector<persist::RowDeleteRecord>> Delete(const DeleteSpec& spec);

  std::vector<persist::RowDeleteRecord> List() { return persister_->RowDeletes(); }
  // A record as /api/v3/row_delete_requests shows it (InfluxDB 3 Enterprise's fields, plus
  // rows_deleted and the files it changed).
  static nlohmann::json ToJson(const persist::RowDeleteRecord& r,
                               const catalog::CatalogState& state);
  // system.row_deletes of database `db`.
  query::VirtualTable SystemTable(const catalog::CatalogState& state, const std::string& db);

 private:
  catalog::Catalog* catalog_;
  wal::Wal* wal_;
  persist::Persister* persister_;
  std::string refused_;
  std::function<void(const std::string&, const std::string&)> on_deleted_;
};

}  // namespace riffle::rowdelete
