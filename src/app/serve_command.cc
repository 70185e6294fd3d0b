#include <cstdlib>
#include <memory>
#include <optional>

#include <unistd.h>

#include "app/serve.h"
#include "app/server_config.h"
#include "schedule/schedule.h"

namespace riffle::app {
namespace {

// "536870912" bytes or "25%" of physical memory.
std::optional<int64_t> ParseMemoryAmount(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || value < 0) return std::nullopt;
  std::string rest(end);
  if (rest.empty()) return static_cast<int64_t>(value);
  if (rest != "%" || value > 100) return std::nullopt;
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return static_cast<int64_t>(static_cast<double>(pages) * static_cast<double>(page) * value / 100.0);
}

// InfluxDB 3's --parquet-mem-cache-size: "20%" of physical memory, "512mb", "2gb", "100kb",
// "4096b", or a plain number of megabytes.
std::optional<int64_t> ParseCacheSize(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!text.empty() && text.back() == '%') return ParseMemoryAmount(text);
  int64_t unit = int64_t{1} << 20;
  for (auto [suffix, bytes] : {std::pair<const char*, int64_t>{"gb", int64_t{1} << 30},
                              {"mb", int64_t{1} << 20}, {"kb", int64_t{1} << 10}, {"b", 1}}) {
    std::string s(suffix);
    if (text.size() > s.size() && text.compare(text.size() - s.size(), s.size(), s) == 0) {
      text.resize(text.size() - s.size());
      unit = bytes;
      break;
    }
  }
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  int64_t count = std::stoll(text);
  if (count > INT64_MAX / unit) return std::nullopt;  // more bytes than a disk holds
  return count * unit;
}

// A duration flag's value (e.g. "10m"); a bad one is the flag's validation error.
std::chrono::nanoseconds DurationFlag(const char* flag, const std::string& text) {
  auto d = schedule::ParseHumanDuration(text);
  if (!d.ok()) throw CLI::ValidationError(flag, d.status().message());
  return std::chrono::duration_cast<std::chrono::nanoseconds>(*d);
}

}  // namespace

void RegisterServeCommand(CLI::App& app, std::function<int()>* action) {
  auto cfg = std::make_shared<ServerConfig>();
  auto flush = std::make_shared<std::string>("1s");
  auto gen1 = std::make_shared<std::string>("10m");
  auto disable_authz = std::make_shared<std::vector<std::string>>();
  auto retention_check = std::make_shared<std::string>("30m");
  auto query_timeout = std::make_shared<std::string>();
  auto plugin_memory = std::make_shared<std::string>();
  auto exec_mem = std::make_shared<std::string>();
  auto mem_threshold = std::make_shared<std::string>("536870912");
  auto node_from_env = std::make_shared<std::string>();
  auto package_manager = std::make_shared<std::string>();
  CLI::App* serve = app.add_subcommand("serve", "Run the database server");
  serve->add_option("--node-id,--host-id", cfg->node_id, "identifier of this node (prefix of its files)")
      ->envname("INFLUXDB3_NODE_IDENTIFIER_PREFIX");
  serve->add_option("--node-id-from-env", *node_from_env, "read the node id from this environment variable")
      ->envname("INFLUXDB3_NODE_IDENTIFIER_FROM_ENV");
  serve->add_option("--object-store", cfg->object_store, "memory, file or s3")
      ->envname("INFLUXDB3_OBJECT_STORE")
      ->check(CLI::IsMember({"memory", "memory-throttled", "file", "s3"}));
  auto request_timeout = std::make_shared<std::string>("30s");
  auto retry_timeout = std::make_shared<std::string>("3m");
  auto modes = std::make_shared<std::vector<std::string>>();
  auto replication = std::make_shared<std::string>("1s");
  serve->add_option("--bucket", cfg->s3.bucket, "bucket of the s3 object store")->envname("INFLUXDB3_BUCKET");
  serve->add_option("--aws-access-key-id", cfg->s3.access_key_id, "S3 access key")->envname("AWS_ACCESS_KEY_ID");
  serve->add_option("--aws-secret-access-key", cfg->s3.secret_access_key, "S3 secret key")
      ->envname("AWS_SECRET_ACCESS_KEY");
  serve->add_option("--aws-session-token", cfg->s3.session_token, "S3 session token (temporary credentials)")
      ->envname("AWS_SESSION_TOKEN");
  serve->add_option("--aws-default-region", cfg->s3.region, "S3 region (default us-east-1)")
      ->envname("AWS_DEFAULT_REGION");
  serve->add_option("--aws-endpoint", cfg->s3.endpoint,
                    "S3-compatible endpoint, e.g. http://127.0.0.1:9000 (path-style requests)")
      ->envname("AWS_ENDPOINT");
  serve->add_flag("--aws-allow-http", cfg->s3.allow_http, "allow a plain http --aws-endpoint")->envname("AWS_ALLOW_HTTP");
  serve->add_flag("--aws-skip-signature", cfg->s3.skip_signature, "send unsigned requests")
      ->envname("AWS_SKIP_SIGNATURE");
  serve->add_option("--object-store-connection-limit", cfg->s3.connection_limit,
                    "connections to the object store at most (default 16)")
      ->envname("INFLUXDB3_OBJECT_STORE_CONNECTION_LIMIT")->check(CLI::PositiveNumber);
  serve->add_option("--object-store-max-retries", cfg->s3.max_retries,
                    "retries of a failed object-store request (default 10)")
      ->envname("INFLUXDB3_OBJECT_STORE_MAX_RETRIES")->check(CLI::NonNegativeNumber);
  serve->add_option("--object-store-retry-timeout", *retry_timeout,
                    "how long a failed object-store request is retried (default 3m)")
      ->envname("INFLUXDB3_OBJECT_STORE_RETRY_TIMEOUT");
  serve->add_option("--object-store-request-timeout", *request_timeout,
                    "longest single object-store request (default 30s)")
      ->envname("INFLUXDB3_OBJECT_STORE_REQUEST_TIMEOUT");
  serve->add_option("--cluster-id", cfg->cluster_id,
                    "cluster of nodes sharing the object store: they share its catalog and tokens")
      ->envname("INFLUXDB3_ENTERPRISE_CLUSTER_ID");
  serve->add_option("--mode", *modes, "what this node does: all, or a list of ingest, query, compact, process")
      ->envname("INFLUXDB3_ENTERPRISE_MODE")->delimiter(',')->allow_extra_args(false)
      ->check(CLI::IsMember({"all", "ingest", "query", "compact", "process"}));
  serve->add_option("--replication-interval", *replication,
                    "how often a query node reads the other nodes' new WAL files and snapshots (default 1s)")
      ->envname("INFLUXDB3_REPLICATION_INTERVAL");
  auto cache_size = std::make_shared<std::string>("20%");
  auto disable_cache = std::make_shared<bool>(false);
  serve->add_option("--parquet-mem-cache-size", *cache_size,
                    "local copies of Parquet objects kept by an s3 node, on disk under its data dir: a percentage "
                    "of RAM (20%), 512mb, 2gb, or megabytes (default 20%)")
      ->envname("INFLUXDB3_PARQUET_MEM_CACHE_SIZE");
  serve->add_option("--parquet-mem-cache-prune-percentage", cfg->parquet_cache_prune_fraction,
                    "share of the cache freed when it is full (0..1, default 0.1)")
      ->envname("INFLUXDB3_PARQUET_MEM_CACHE_PRUNE_PERCENTAGE")->check(CLI::Range(0.0, 1.0));
  serve->add_flag("--disable-parquet-mem-cache", *disable_cache,
                  "keep no Parquet copies past the queries that read them")
      ->envname("INFLUXDB3_DISABLE_PARQUET_MEM_CACHE");
  serve->add_option("--data-dir", cfg->data_dir, "directory of the file object store")->envname("INFLUXDB3_DB_DIR");
  serve->add_option("--plugin-dir", cfg->plugin_dir, "directory of processing-engine plugins")
      ->envname("INFLUXDB3_PLUGIN_DIR");
  serve->add_option("--plugin-repo", cfg->plugin_repo, "base URL for gh: plugins")->envname("INFLUXDB3_PLUGIN_REPO");
  serve->add_option("--http-bind", cfg->http_bind, "address to listen on")->envname("INFLUXDB3_HTTP_BIND_ADDR");
  serve->add_option("--max-http-request-size", cfg->max_http_request_size, "largest request body in bytes")
      ->envname("INFLUXDB3_MAX_HTTP_REQUEST_SIZE")
      ->check(CLI::PositiveNumber);
  serve->add_option("--wal-flush-interval", *flush, "the longest a write waits for its WAL flush (e.g. 1s, 100ms)")
      ->envname("INFLUXDB3_WAL_FLUSH_INTERVAL");
  auto min_gap = std::make_shared<std::string>();
  serve->add_option("--wal-min-flush-gap", *min_gap,
                    "shortest time between two WAL flushes (default 10ms; the flush interval on s3)")
      ->envname("INFLUXDB3_WAL_MIN_FLUSH_GAP");
  serve->add_option("--wal-max-write-buffer-size", cfg->wal_max_write_buffer_size, "writes queued per flush")
      ->envname("INFLUXDB3_WAL_MAX_WRITE_BUFFER_SIZE");
  serve->add_option("--wal-flush-bytes", cfg->wal_flush_bytes,
                    "flush early once this many bytes of writes are queued (0: only on the interval)")
      ->envname("INFLUXDB3_WAL_FLUSH_BYTES");
  serve->add_option("--restrict-plugin-triggers-to", cfg->restrict_triggers_to,
                    "comma list of the trigger kinds that may be created: wal (wal_flush), schedule, request")
      ->envname("INFLUXDB3_RESTRICT_PLUGIN_TRIGGERS_TO")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->check(CLI::IsMember({"wal", "wal_flush", "schedule", "request"}));
  serve->add_option("--async-trigger-concurrency-limit", cfg->async_trigger_concurrency_limit,
                    "runs of one --run-asynchronous trigger at a time; more wait (default 0: no limit)")
      ->envname("INFLUXDB3_ASYNC_TRIGGER_CONCURRENCY_LIMIT");
  serve
      ->add_option(
          "--plugin-isolation", cfg->plugin_isolation,
          "where plugins run: process (a supervised worker process per trigger: a crash, exit or "
          "runaway plugin ends only its run) or thread (inside the server, as InfluxDB 3 does)")
      ->envname("INFLUXDB3_PLUGIN_ISOLATION")
      ->check(CLI::IsMember({"process", "thread"}));
  serve
      ->add_option("--plugin-memory-limit", *plugin_memory,
                   "resident memory a plugin worker process may use before it is killed (e.g. "
                   "512mb, 2gb, 10%; "
                   "default: no limit); process isolation only")
      ->envname("INFLUXDB3_PLUGIN_MEMORY_LIMIT");
  serve->add_flag("--disable-package-management", cfg->disable_package_management,
                  "refuse `influxdb3 install package` (403), as --package-manager disabled does")
      ->envname("INFLUXDB3_DISABLE_PACKAGE_MANAGEMENT");
  serve->add_option("--package-manager", *package_manager,
                    "discover, pip or uv are accepted (Riffle uses pip); disabled is --disable-package-management")
      ->envname("INFLUXDB3_PACKAGE_MANAGER");
  serve->add_option("--admin-token-file", cfg->admin_token_file,
                    "JSON file {\"token\": \"apiv3_...\", \"name\": \"_admin\"} (from `create token --admin "
                    "--offline --output-file`): its admin token exists from the first start")
      ->envname("INFLUXDB3_ADMIN_TOKEN_FILE");
  serve->add_option("--tls-cert", cfg->tls_cert, "PEM certificate chain: serve HTTPS and gRPC over TLS on the one port")
      ->envname("INFLUXDB3_TLS_CERT");
  serve->add_option("--tls-key", cfg->tls_key, "PEM private key of --tls-cert")->envname("INFLUXDB3_TLS_KEY");
  serve->add_option("--tls-minimum-version", cfg->tls_min_version, "tls-1.2 (default) or tls-1.3")
      ->envname("INFLUXDB3_TLS_MINIMUM_VERSION")
      ->check(CLI::IsMember({"tls-1.2", "tls-1.3"}));
  serve->add_flag("--disable-ui", cfg->disable_ui, "do not serve the web console at / (Riffle)")
      ->envname("INFLUXDB3_DISABLE_UI");
  serve->add_flag("--without-auth", cfg->without_auth, "accept requests without a token")
      ->envname("INFLUXDB3_START_WITHOUT_AUTH");
  serve->add_option("--max-databases", cfg->max_databases, "most databases (default 100; Core has 5)")
      ->envname("INFLUXDB3_MAX_DATABASES")->check(CLI::PositiveNumber);
  serve->add_option("--max-tables", cfg->max_tables, "most tables across databases (default 4000)")
      ->envname("INFLUXDB3_MAX_TABLES")->check(CLI::PositiveNumber);
  serve->add_option("--max-columns-per-table", cfg->max_columns_per_table, "most tag+field columns (default 500)")
      ->envname("INFLUXDB3_MAX_COLUMNS_PER_TABLE")->check(CLI::PositiveNumber);
  serve->add_option("--wal-snapshot-size", cfg->wal_snapshot_size,
                    "snapshot the buffer to Parquet after this many WAL files")
      ->envname("INFLUXDB3_WAL_SNAPSHOT_SIZE")->check(CLI::PositiveNumber);
  serve->add_option("--snapshotted-wal-files-to-keep", cfg->snapshotted_wal_files_to_keep,
                    "WAL files kept after a snapshot covered them")
      ->envname("INFLUXDB3_NUM_WAL_FILES_TO_KEEP");
  serve->add_option("--force-snapshot-mem-threshold,--snapshot-buffer-bytes", *mem_threshold,
                    "snapshot when the in-memory buffer holds this much: bytes, or a percentage of RAM (e.g. 25%)")
      ->envname("INFLUXDB3_FORCE_SNAPSHOT_MEM_THRESHOLD");
  serve
      ->add_option(
          "--force-snapshot-rows", cfg->snapshot_rows,
          "snapshot once this many rows were written since the last snapshot, so a restart replays "
          "at most about that many (default 500000; 0: no limit)")
      ->envname("INFLUXDB3_FORCE_SNAPSHOT_ROWS")
      ->check(CLI::Range(int64_t{0}, INT64_MAX));
  serve->add_option("--disable-authz", *disable_authz, "endpoints served without a token: health,ping,metrics,ready")
      ->envname("INFLUXDB3_DISABLE_AUTHZ")->delimiter(',')->allow_extra_args(false)
      ->check(CLI::IsMember({"health", "ping", "metrics", "ready", "pprof"}));
  serve->add_option("--retention-check-interval", *retention_check, "how often expired Parquet files are removed")
      ->envname("INFLUXDB3_RETENTION_CHECK_INTERVAL");
  auto shutdown_timeout = std::make_shared<std::string>("30s");
  serve->add_option("--shutdown-timeout", *shutdown_timeout,
                    "after SIGTERM or SIGINT, exit within this long whatever is still running (default 30s)")
      ->envname("INFLUXDB3_SHUTDOWN_TIMEOUT");
  auto compaction_check = std::make_shared<std::string>("10s");
  serve->add_option("--compaction-check-interval", *compaction_check,
                    "how often a cluster's compact node looks for files to merge (default 10s)")
      ->envname("INFLUXDB3_ENTERPRISE_COMPACTION_CHECK_INTERVAL");
  serve->add_option("--compaction-min-files", cfg->compaction_min_files,
                    "merge a table's Parquet files of one closed UTC day once there are this many")
      ->envname("INFLUXDB3_COMPACTION_MIN_FILES")->check(CLI::Range(2, 1000000));
  serve
      ->add_option("--parquet-compression", cfg->parquet_compression,
                   "codec of the Parquet files Riffle writes: snappy (default: decodes about twice "
                   "as fast as "
                   "zstd), zstd (about 20% smaller), lz4_raw, gzip or uncompressed; files of any "
                   "codec are read")
      ->envname("INFLUXDB3_PARQUET_COMPRESSION")
      ->check(CLI::IsMember({"snappy", "zstd", "lz4_raw", "gzip", "uncompressed"}));
  serve->add_option("--gen1-duration", *gen1, "time chunk of one Parquet file (1m, 5m, 10m, ...)")
      ->envname("INFLUXDB3_GEN1_DURATION");
  serve->add_option("--query-timeout", *query_timeout,
                    "end a query that runs longer (e.g. 30s, 5m; default: no limit) with an error naming the limit")
      ->envname("INFLUXDB3_QUERY_TIMEOUT");
  serve->add_option("--exec-mem-pool-bytes", *exec_mem,
                    "memory queries may use: bytes or a percentage of RAM (e.g. 20%); past it they spill to disk "
                    "(default: DuckDB's, 80% of RAM)")
      ->envname("INFLUXDB3_EXEC_MEM_POOL_BYTES");
  serve
      ->add_option(
          "--virtual-env-location", cfg->virtual_env,
          "the Python venv plugins import from and `influxdb3 install package` installs into "
          "(created when missing; default: <plugin-dir>/.venv)")
      ->envname("VIRTUAL_ENV");
  serve
      ->add_option("--query-log-size", cfg->query_log_size,
                   "queries system.queries keeps (default 1000)")
      ->envname("INFLUXDB3_QUERY_LOG_SIZE")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  RegisterInfluxdb3Flags(app, *serve, cfg);
  serve->callback([cfg, flush, min_gap, gen1, mem_threshold, retention_check, query_timeout,
                   exec_mem, disable_authz, node_from_env, request_timeout, retry_timeout, modes,
                   replication, cache_size, disable_cache, compaction_check, shutdown_timeout,
                   package_manager, plugin_memory, action] {
    if (cfg->node_id.empty() && !node_from_env->empty()) {
      const char* v = std::getenv(node_from_env->c_str());
      if (!v || !*v)
        throw CLI::ValidationError("--node-id-from-env",
                                   "environment variable " + *node_from_env + " is not set");
      cfg->node_id = v;
    }
    if (cfg->node_id.empty())
      throw CLI::RequiredError("--node-id (or --node-id-from-env) is required, e.g. --node-id node0");
    if (*package_manager == "disabled") cfg->disable_package_management = true;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(DurationFlag("--wal-flush-interval", *flush));
    if (ms.count() < 1) throw CLI::ValidationError("--wal-flush-interval", "must be at least 1ms");
    cfg->wal_flush_interval = ms;
    if (!min_gap->empty())
      cfg->wal_min_flush_gap =
          std::chrono::duration_cast<std::chrono::milliseconds>(DurationFlag("--wal-min-flush-gap", *min_gap));
    cfg->gen1_duration = DurationFlag("--gen1-duration", *gen1);
    if (cfg->gen1_duration < std::chrono::minutes(1))
      throw CLI::ValidationError("--gen1-duration", "must be at least 1m, e.g. 10m");
    cfg->disable_authz.insert(disable_authz->begin(), disable_authz->end());
    cfg->retention_check_interval = DurationFlag("--retention-check-interval", *retention_check);
    if (!query_timeout->empty()) {
      cfg->query_timeout =
          std::chrono::duration_cast<std::chrono::milliseconds>(DurationFlag("--query-timeout", *query_timeout));
      if (cfg->query_timeout.count() < 1)
        throw CLI::ValidationError("--query-timeout", "must be at least 1ms, e.g. 30s");
      cfg->query_timeout_text = *query_timeout;
    }
    auto threshold = ParseMemoryAmount(*mem_threshold);
    if (!threshold)
      throw CLI::ValidationError(
          "--force-snapshot-mem-threshold",
          "expected bytes (e.g. 536870912) or a percentage of RAM (e.g. 25%), got '" +
              *mem_threshold + "'");
    cfg->snapshot_buffer_bytes = *threshold;
    if (!exec_mem->empty()) {
      auto bytes = ParseMemoryAmount(*exec_mem);
      if (!bytes || *bytes < (16 << 20))
        throw CLI::ValidationError("--exec-mem-pool-bytes", "expected at least 16 MiB in bytes (e.g. 8589934592) or a "
                                                            "percentage of RAM (e.g. 20%), got '" + *exec_mem + "'");
      cfg->exec_mem_pool_bytes = *bytes;
    }
    if (!plugin_memory->empty()) {
      auto bytes = ParseCacheSize(*plugin_memory);
      if (!bytes || *bytes < (64 << 20))
        throw CLI::ValidationError(
            "--plugin-memory-limit",
            "expected at least 64 MiB as a size (e.g. 512mb, 2gb), "
            "megabytes (e.g. 1024) or a percentage of RAM (e.g. 10%), got '" +
                *plugin_memory + "'");
      cfg->plugin_memory_limit_bytes = *bytes;
    }
    auto cache_bytes = ParseCacheSize(*cache_size);
    if (!cache_bytes)
      throw CLI::ValidationError("--parquet-mem-cache-size", "expected a percentage of RAM (e.g. 20%), a size "
                                                             "(e.g. 512mb, 2gb) or megabytes (e.g. 1024), got '" +
                                                                 *cache_size + "'");
    cfg->parquet_cache_bytes = *disable_cache ? 0 : *cache_bytes;
    auto as_ms = [](const char* flag, const std::string& text) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(DurationFlag(flag, text));
    };
    cfg->s3.request_timeout = as_ms("--object-store-request-timeout", *request_timeout);
    cfg->s3.retry_timeout = as_ms("--object-store-retry-timeout", *retry_timeout);
    if (cfg->s3.request_timeout.count() < 1)
      throw CLI::ValidationError("--object-store-request-timeout", "must be at least 1ms, e.g. 30s");
    cfg->replication_interval = as_ms("--replication-interval", *replication);
    cfg->compaction_check_interval = as_ms("--compaction-check-interval", *compaction_check);
    cfg->shutdown_timeout = as_ms("--shutdown-timeout", *shutdown_timeout);
    if (cfg->shutdown_timeout.count() < 100)
      throw CLI::ValidationError("--shutdown-timeout", "must be at least 100ms, e.g. 30s");
    if (cfg->compaction_check_interval.count() < 10)
      throw CLI::ValidationError("--compaction-check-interval", "must be at least 10ms, e.g. 10s");
    if (cfg->replication_interval.count() < 10)
      throw CLI::ValidationError("--replication-interval", "must be at least 10ms, e.g. 1s");
    if (!modes->empty() && !(modes->size() == 1 && modes->front() == "all")) {
      cfg->modes.clear();
      cfg->modes_text.clear();
      for (const auto& m : *modes) {
        if (m == "all")
          throw CLI::ValidationError("--mode", "'all' cannot be combined with other modes");
        cfg->modes.insert(m);
        cfg->modes_text += (cfg->modes_text.empty() ? "" : ",") + m;
      }
      if (cfg->cluster_id.empty())
        throw CLI::ValidationError("--mode", "needs --cluster-id: a node with only some modes is part of a cluster");
    }
    if (cfg->object_store == "file" && cfg->data_dir.empty()) {
      const char* home = std::getenv("HOME");
      cfg->data_dir = std::string(home ? home : ".") + "/.influxdb3";
    }
    *action = [cfg] { return RunServer(*cfg); };
  });
}

}  // namespace riffle::app
