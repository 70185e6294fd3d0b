// The server's configuration, filled from `serve` flags and environment variables.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "objstore/s3_store.h"

namespace riffle::app {

struct ServerConfig {
  std::string node_id;
  std::string object_store = "file";
  std::string data_dir;
  objstore::S3Options s3;  // --object-store s3
  // Enterprise's cluster: nodes sharing one bucket keep the catalog and tokens under the
  // cluster id; empty means a single node (catalog under the node id, as Core).
  std::string cluster_id;
  // --mode: what this node does (ingest, query, compact, process); all of them by default.
  std::set<std::string> modes = {"ingest", "query", "compact", "process"};
  std::string modes_text = "all";  // as given, for messages
  std::chrono::milliseconds replication_interval{1000};  // query nodes: how often they catch up
  std::string plugin_dir;
  std::string virtual_env;  // the plugins' venv; empty: <plugin_dir>/.venv
  std::string plugin_repo = "https://raw.githubusercontent.com/influxdata/influxdb3_plugins/main/";
  std::string http_bind = "0.0.0.0:8181";
  std::string tls_cert, tls_key, tls_min_version = "tls-1.2";  // --tls-*: HTTPS and gRPC over TLS
  std::vector<std::string> restrict_triggers_to;  // --restrict-plugin-triggers-to: wal, schedule, request
  bool disable_package_management = false;        // also --package-manager disabled
  std::string admin_token_file;                   // --admin-token-file
  size_t async_trigger_concurrency_limit = 0;     // 0: no limit
  bool disable_ui = false;                        // --disable-ui: no web console at /
  std::string plugin_isolation = "process";       // --plugin-isolation: process | thread
  int64_t plugin_memory_limit_bytes = 0;  // --plugin-memory-limit (process isolation); 0: none
  size_t max_http_request_size = 10485760;
  std::chrono::milliseconds wal_flush_interval{1000};
  // --wal-min-flush-gap: unset = 10ms on file and memory stores, the flush interval on s3.
  std::optional<std::chrono::milliseconds> wal_min_flush_gap;
  size_t wal_max_write_buffer_size = 100000;
  size_t wal_flush_bytes = 4 << 20;
  size_t wal_snapshot_size = 600;
  size_t snapshotted_wal_files_to_keep = 300;
  std::chrono::nanoseconds gen1_duration{std::chrono::minutes(10)};
  std::chrono::nanoseconds retention_check_interval{std::chrono::minutes(30)};
  size_t compaction_min_files = 8;
  std::string parquet_compression;  // empty: buffer::kDefaultParquetCodec
  std::chrono::milliseconds compaction_check_interval{10000};  // a cluster's compactor
  int64_t snapshot_buffer_bytes = int64_t{1} << 29;
  // --force-snapshot-rows: bounds what a restart replays, and the rows a snapshot holds twice
  // (frozen and being written) and sorts: half a million kept the 10M-row ingest's peak RSS
  // 140-170 MB lower than a million (bench/README.md, fourteenth session).
  int64_t snapshot_rows = 500'000;
  int http_threads = 4;
  std::chrono::milliseconds query_timeout{0};  // 0: no limit
  std::chrono::milliseconds shutdown_timeout{30000};  // SIGTERM → exit at the latest
  std::string query_timeout_text;              // as given, for the error message
  size_t query_log_size = 1000;                // queries system.queries keeps
  int64_t exec_mem_pool_bytes = 0;             // DuckDB's memory limit (0: its default)
  int query_threads = 0;  // --num-datafusion-threads: DuckDB's threads (0: one per core)
  bool wal_replay_fail_on_error =
      false;  // a corrupt WAL file stops the start instead of being skipped
  // InfluxDB 3 flags given (on the command line or in the environment) that change nothing here.
  std::vector<std::string> inert_flags;
  // The s3 store's local copies of Parquet objects (--parquet-mem-cache-size, on disk here).
  int64_t parquet_cache_bytes = 0;
  double parquet_cache_prune_fraction = 0.1;
  bool without_auth = false;
  std::set<std::string> disable_authz;  // health, ping, metrics, ready, pprof
  size_t max_databases = 100, max_tables = 4000, max_columns_per_table = 500;
};

// Runs until SIGINT/SIGTERM; returns the process exit code.
int RunServer(const ServerConfig& config);

}  // namespace riffle::app
