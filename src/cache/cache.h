// cache: InfluxDB 3's last value caches and distinct value caches. Definitions live in the
// catalog; the values live here, in memory, fed by every WAL flush and warmed from stored data
// when a cache is created and when the server starts. Queries read them through the SQL table
// functions last_cache('table'[, 'name']) and distinct_cache('table'[, 'name']).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "query/query.h"
#include "wal/wal.h"

namespace riffle::cache {

class Caches {
 public:
  Caches() = default;
  Caches(const Caches&) = delete;
  Caches& operator=(const Caches&) = delete;

  // Adds a WAL flush's rows to every cache of their tables.
  void Apply(const catalog::CatalogState& state, const std::vector<wal::WriteOpPtr>& ops);
  // Fills the caches of database `db` named in `names` (all when empty) from the rows already
  // stored, within their ttl / max age.
  Status Warm(const catalog::CatalogState& state, query::QueryEngine& engine, const std::string& db,
              const std::vector<std::string>& names = {});
  // After rows of `table` in `db` were deleted: its caches forget their values and are filled
  // again from the rows that are left.
  Status Refill(const catalog::CatalogState& state, query::QueryEngine& engine,
                const std::string& db, const std::string& table);
  // The rows of last_cache(table[, name]) (`last`) or distinct_cache(table[, name]) in `db`;
  // `name` may be empty when the table has exactly one cache of that kind.
  Result<query::VirtualTable> Table(const catalog::CatalogState& state, const std::string& db,
                                    bool last, const std::string& table, const std::string& name);
  // system.last_caches / system.distinct_caches of `db`.
  query::VirtualTable SystemTable(const catalog::CatalogState& state, const std::string& db,
                                  bool last);
  // Forgets the values of caches the catalog no longer defines.
  void Prune(const catalog::CatalogState& state);

 private:
  struct LastRow {
    int64_t time;
    int64_t seen_ns;
    std::vector<std::pair<std::string, query::Value>> values;  // value columns present in the write
  };
  struct LastEntry {
    std::vector<query::Value> key;
    std::vector<LastRow> rows;  // newest first, at most `count`
  };
  struct LastState {
    std::map<std::string, LastEntry> entries;  // by encoded key
  };
  struct DistinctState {
    std::map<std::vector<std::string>, int64_t> seen;  // encoded values → last seen (ns)
  };
  using Key = std::pair<uint32_t, std::string>;  // database id, cache name

  void AddLast(LastState& s, const catalog::LastCache& def, std::vector<query::Value> key,
               LastRow row);
  void AddDistinct(DistinctState& s, const catalog::DistinctCache& def,
                   std::vector<std::string> values, int64_t now);

  std::mutex mu_;
  std::map<Key, LastState> last_;
  std::map<Key, DistinctState> distinct_;
};

}  // namespace riffle::cache
