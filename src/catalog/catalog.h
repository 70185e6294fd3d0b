// The catalog: databases, tables, columns and processing-engine triggers.
//
// State is immutable and shared (copy-on-write): readers take a snapshot with State()
// and never lock; every change builds a new state, persists it to the object store as a
// new checksummed version, and only then publishes it. Column types are fixed by the
// first write (COMPAT.md §8.3).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "objstore/object_store.h"

namespace riffle::catalog {

enum class ColumnType : uint8_t { kTag, kInt64, kUInt64, kFloat64, kString, kBool, kTime };

const char* ColumnTypeName(ColumnType t);        // "tag", "int64", ... (catalog file + messages)
const char* InfluxDataTypeName(ColumnType t);    // "Dictionary(Int32, Utf8)", "Float64", ...
Result<ColumnType> ColumnTypeFromName(const std::string& name);

struct Column {
  uint32_t id = 0;
  std::string name;
  ColumnType type = ColumnType::kFloat64;
};

struct Table {
  uint32_t id = 0;
  std::string name;
  std::vector<Column> columns;  // in creation order; `time` is always present
  // Table-level retention (InfluxDB 3 Enterprise): when set, it replaces the database's for
  // this table.
  std::optional<int64_t> retention_ns;
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // name → position in `columns`; looked up with string_views straight from line protocol
  std::unordered_map<std::string, size_t, NameHash, std::equal_to<>> index;

  const Column* Find(std::string_view name) const;
  // A column whose name differs from `name` only in letter case, if any. The query engine's
  // identifiers are case-insensitive, so such names cannot live side by side.
  const Column* FindOtherCase(std::string_view name) const;
  void AddColumn(std::string name, ColumnType type, uint32_t id);
};

struct TriggerSettings {
  bool run_async = false;
  std::string error_behavior = "log";  // log | retry | disable
  int64_t run_timeout_ns = 0;          // 0: no limit; a longer run is interrupted
  int max_retries = 3;                 // error behaviour retry: attempts after the first
  bool public_endpoint = false;        // request triggers: served without authentication
  int64_t queue_size = 0;              // pending events kept (0: the engine default, 1000)
};

struct Trigger {
  std::string name;
  std::string plugin_filename;
  std::string database;
  std::string specification;  // canonical string form, e.g. "table:cpu", "every:10s"
  TriggerSettings settings;
  std::optional<std::map<std::string, std::string>> arguments;
  bool disabled = false;
};

// A last value cache (InfluxDB 3's LVC): the newest `count` rows of each distinct key.
struct LastCache {
  std::string name;
  std::string table;
  std::vector<std::string> key_columns;
  std::vector<std::string> value_columns;  // empty: every column that is not a key (time too)
  uint64_t count = 1;                       // 1..10
  uint64_t ttl_seconds = 4 * 3600;
};

// A distinct value cache: the distinct combinations of tag/string columns seen lately.
struct DistinctCache {
  std::string name;
  std::string table;
  std::vector<std::string> columns;
  uint64_t max_cardinality = 100'000;
  uint64_t max_age_seconds = 24 * 3600;
};

struct Database {
  uint32_t id = 0;
  std::string name;
  bool deleted = false;
  std::optional<int64_t> retention_ns;
  std::map<std::string, std::shared_ptr<const Table>, std::less<>> tables;  // by name
  std::map<std::string, Trigger> triggers;                     // by name
  std::map<std::string, LastCache> last_caches;                // by name
  std::map<std::string, DistinctCache> distinct_caches;        // by name

  const Table* FindTable(std::string_view name) const;
  const Table* FindTableById(uint32_t table_id) const;
  // A table whose name differs from `name` only in letter case, if any (see FindOtherCase).
  const Table* FindTableOtherCase(std::string_view name) const;
};

// Case-insensitive equality of ASCII names.
bool SameIgnoringCase(std::string_view a, std::string_view b);
// The line error for a name that collides with another only by case.
std::string CaseCollisionMessage(const char* what, std::string_view name, std::string_view existing);

// The retention period that applies to `table` of `db`: its own, else the database's.
inline std::optional<int64_t> EffectiveRetention(const Database& db, const Table& table) {
  return table.retention_ns ? table.retention_ns : db.retention_ns;
}

struct CatalogState {
  uint64_t version = 0;
  uint32_t next_db_id = 1, next_table_id = 1, next_column_id = 1;
  std::string catalog_uuid;
  std::map<std::string, std::shared_ptr<const Database>, std::less<>> databases;  // by (current) name

  const Database* FindDatabase(std::string_view name) const;
  // The live (not deleted) database numbered `db_id`, or null.
  const Database* FindDatabaseById(uint32_t db_id) const;
  // Its table numbered `table_id`, or null (Parquet files, WAL ops and deletes name tables by id).
  const Table* FindTableById(uint32_t db_id, uint32_t table_id) const;
  size_t LiveDatabaseCount() const;
};

// Schema limits. InfluxDB 3 Core fixes 5 databases / 2000 tables / 500 columns; Riffle uses
// InfluxDB 3 Enterprise's historic limits by default and makes them flags (serve --max-*).
struct Limits {
  size_t max_databases = 100;
  size_t max_tables = 4000;
  size_t max_columns_per_table = 500;
};

// Validates a database name like InfluxDB's validate_db_name; message is the exact text.
Status ValidateDatabaseName(std::string_view name);

// A description of schema additions the write path needs: applied atomically.
struct ColumnAddition {
  std::string table;
  std::string column;
  ColumnType type;
};

class Catalog {
 public:
  Catalog(objstore::ObjectStore* store, std::string node_id, Limits limits = {});

  // Loads the newest valid catalog version, or starts empty.
  Status Load();
  // Several nodes write this catalog (a cluster over one bucket): every change first catches
  // up with the newest version and is written with a create-only put, retried on a conflict.
  void SetShared(bool shared) { shared_ = shared; }
  // Catches up with a newer version another node wrote; listeners see the change.
  Status Refresh();

  std::shared_ptr<const CatalogState> State() const;

  // Creates the database if missing (write path); returns the live database.
  Result<std::shared_ptr<const Database>> EnsureDatabase(const std::string& name);
  Status CreateDatabase(const std::string& name, std::optional<int64_t> retention_ns);
  // The `_internal` database InfluxDB 3 always has (its system tables, e.g. the engine's logs,
  // are what plugin READMEs query there). Not writable, not deletable, not counted in limits.
  Status EnsureInternalDatabase();
  Status SetRetention(const std::string& name, std::optional<int64_t> retention_ns);
  // Soft delete: renames the database to "<name>-<YYYYMMDDTHHMMSS>" and marks it deleted.
  Status DeleteDatabase(const std::string& name);

  // Adds tables/columns to `db`; columns already present with the same type are no-ops, a type
  // conflict fails the whole change.
  Status AddColumns(const std::string& db, const std::vector<ColumnAddition>& additions);
  // `retention_ns`: the table's own retention period, if it has one.
  Status CreateTable(const std::string& db, const std::string& table,
                     const std::vector<std::string>& tags,
                     const std::vector<std::pair<std::string, ColumnType>>& fields,
                     std::optional<int64_t> retention_ns = std::nullopt);
  Status DeleteTable(const std::string& db, const std::string& table);
  // Sets (or, with nullopt, clears) a table's own retention period.
  Status SetTableRetention(const std::string& db, const std::string& table, std::optional<int64_t> retention_ns);

  // Caches (catalog/caches.cc): defaults filled in and checked against the table as InfluxDB 3
  // does; the stored definition is returned.
  Result<LastCache> CreateLastCache(const std::string& db, LastCache spec);
  Status DeleteLastCache(const std::string& db, const std::string& table, const std::string& name);
  Result<DistinctCache> CreateDistinctCache(const std::string& db, DistinctCache spec);
  Status DeleteDistinctCache(const std::string& db, const std::string& table, const std::string& name);

  Status CreateTrigger(Trigger trigger);
  Status SetTriggerDisabled(const std::string& db, const std::string& name, bool disabled);
  Status DeleteTrigger(const std::string& db, const std::string& name);

  // Called (outside the catalog lock) after every published change.
  using Listener = std::function<void(const CatalogState& before, const CatalogState& after)>;
  void AddListener(Listener listener);
  // Called with a change after it is persisted but before readers can see it: what a reader
  // finds in the catalog is then already there (e.g. a new table is already queryable).
  void AddPrePublishListener(Listener listener);

 private:
  using Mutation = std::function<Status(CatalogState&)>;
  Status Mutate(const Mutation& mutation);
  Status Persist(const CatalogState& state);

  Status RefreshLocked();  // under write_mu_
  void Publish(std::shared_ptr<const CatalogState> before, std::shared_ptr<const CatalogState> next);
  uint64_t VersionOf(const std::string& key) const;
  // The newest catalog version among `keys` (sorted) that reads back valid, if newer than
  // `above`; nullptr if none.
  std::shared_ptr<CatalogState> NewestValid(const std::vector<std::string>& keys,
                                            std::optional<uint64_t> above) const;
  objstore::ObjectStore* store_;
  bool shared_ = false;
  uint64_t newest_stored_ = 0;  // the highest version number seen in the store
  std::string prefix_;
  Limits limits_;
  mutable std::mutex state_mu_;      // guards state_ pointer swaps
  std::mutex write_mu_;              // serialises mutations
  std::shared_ptr<const CatalogState> state_;
  std::vector<Listener> listeners_;
  std::vector<Listener> pre_publish_listeners_;
};

}  // namespace riffle::catalog
