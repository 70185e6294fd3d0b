#include "duck/database.h"

#include <algorithm>

#include "duck/internal.h"

namespace riffle::duck {

Result<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  std::unique_ptr<Database> db(new Database());
  duckdb_config config;
  if (duckdb_create_config(&config) == DuckDBError)
    return Status::Internal("duckdb_create_config failed");
  auto set = [&](const char* k, const std::string& v) { duckdb_set_config(config, k, v.c_str()); };
  // User SQL must never reach the network or the file system, nor load code.
  set("autoinstall_known_extensions", "false");
  set("autoload_known_extensions", "false");
  set("allow_community_extensions", "false");
  if (options.threads > 0) set("threads", std::to_string(options.threads));
  // A memory limit makes big sorts, joins and aggregates spill to disk (or fail with an
  // out-of-memory error) instead of growing the process without bound.
  if (options.memory_limit_bytes > 0)
    set("memory_limit", std::to_string(std::max<int64_t>(1, options.memory_limit_bytes / 1024)) + "KiB");
  if (!options.spill_directory.empty()) set("temp_directory", options.spill_directory);
  char* err = nullptr;
  duckdb_state st = duckdb_open_ext(":memory:", &db->db_, config, &err);
  duckdb_destroy_config(&config);
  if (st == DuckDBError) {
    std::string msg = err ? err : "?";
    duckdb_free(err);
    return Status::Internal("cannot open DuckDB: " + msg);
  }
  duckdb_connection setup;
  if (duckdb_connect(db->db_, &setup) == DuckDBError)
    return Status::Internal("cannot connect to DuckDB");
  // Queries compare TIMESTAMP_NS with now() (TIMESTAMPTZ): keep that conversion in UTC.
  Status s = Exec(setup, "SET GLOBAL TimeZone = 'UTC'");
  // No automatic checkpoint: a compressed in-memory catalog compresses appended rows at each
  // checkpoint, which its owner runs (the write buffer: buffer_append.cc). DuckDB's own, at
  // every 16 MB appended, ran inside a commit and waited there for every scan of the catalog.
  if (s.ok()) s = Exec(setup, "SET GLOBAL checkpoint_threshold = '1000TB'");
  // Parquet footers are read once per file, not once per query: files are never rewritten in
  // place (a snapshot or merge writes a new name), and a query over many small files otherwise
  // spends most of its time decoding their metadata.
  if (s.ok()) s = Exec(setup, "SET GLOBAL parquet_metadata_cache = true");
  // In-memory compression: dictionary-encoded tags and compressed numbers, about a third of
  // the memory and several times faster to scan.
  for (const auto& name : options.compressed_catalogs)
    if (s.ok()) s = Exec(setup, "ATTACH ':memory:' AS " + QuoteIdent(name) + " (COMPRESS)");
  // Only the given directories are reachable; then file access is closed for good (DuckDB
  // refuses to re-enable it).
  if (s.ok() && !options.allowed_directories.empty()) {
    std::string list;
    for (const auto& d : options.allowed_directories)
      list += (list.empty() ? "" : ", ") + QuoteLiteral(d + "/");
    s = Exec(setup, "SET GLOBAL allowed_directories = [" + list + "]");
  }
  if (s.ok()) s = Exec(setup, "SET GLOBAL enable_external_access = false");
  duckdb_disconnect(&setup);
  RIFFLE_RETURN_IF_ERROR(s);
  return db;
}

Database::~Database() {
  if (db_) duckdb_close(&db_);
}

}  // namespace riffle::duck
