// InfluxDB 3 `serve` flags whose job Riffle does differently or not at all: an existing
// deployment's command line or environment must start Riffle unchanged. Two map onto Riffle;
// the others are accepted, checked for a value of the right shape, and named in a warning at
// start-up.
#include <cctype>
#include <cstdlib>
#include <memory>

#include "app/serve.h"
#include "app/server_config.h"

namespace riffle::app {
namespace {

struct InertFlag {
  const char* name;
  const char* env;
  bool takes_value;
  const char* why;  // what Riffle does instead
};

// From influxdb3 3.x's `serve` (influxdb3/src/commands/serve.rs, influxdb3_clap_blocks).
constexpr InertFlag kInertFlags[] = {
    {"--checkpoint-interval", "INFLUXDB3_CHECKPOINT_INTERVAL", true,
     "--force-snapshot-rows bounds what a restart replays"},
    {"--gen1-lookback-duration", "INFLUXDB3_GEN1_LOOKBACK_DURATION", true,
     "every snapshot manifest's files are loaded"},
    {"--snapshot-concurrency-limit", "INFLUXDB3_SNAPSHOT_CONCURRENCY_LIMIT", true,
     "one snapshot runs at a time"},
    {"--wal-replay-concurrency-limit", "INFLUXDB3_WAL_REPLAY_CONCURRENCY_LIMIT", true,
     "replay decodes one file per core ahead of the appends"},
    {"--delete-grace-period", "INFLUXDB3_DELETE_GRACE_PERIOD", true,
     "files are deleted once no query started before the change still runs"},
    {"--hard-delete-default-duration", "INFLUXDB3_HARD_DELETE_DEFAULT_DURATION", true,
     "a deleted database's or table's files are removed at once"},
    {"--last-cache-eviction-interval", "INFLUXDB3_LAST_CACHE_EVICTION_INTERVAL", true,
     "Riffle's caches have no eviction timer"},
    {"--distinct-cache-eviction-interval", "INFLUXDB3_DISTINCT_CACHE_EVICTION_INTERVAL", true,
     "Riffle's caches have no eviction timer"},
    {"--query-file-limit", "INFLUXDB3_QUERY_FILE_LIMIT", true,
     "a query opens only the files its time range meets, without a limit"},
    {"--table-index-cache-max-entries", "INFLUXDB3_TABLE_INDEX_CACHE_MAX_ENTRIES", true,
     "there is no table index cache"},
    {"--table-index-cache-concurrency-limit", "INFLUXDB3_TABLE_INDEX_CACHE_CONCURRENCY_LIMIT", true,
     "there is no table index cache"},
    {"--datafusion-config", "INFLUXDB3_DATAFUSION_CONFIG", true, "queries run on DuckDB"},
    {"--datafusion-max-parquet-fanout", "INFLUXDB3_DATAFUSION_MAX_PARQUET_FANOUT", true,
     "queries run on DuckDB"},
    {"--datafusion-use-cached-parquet-loader", "INFLUXDB3_DATAFUSION_USE_CACHED_PARQUET_LOADER",
     false, "the s3 store keeps whole Parquet files on local disk (--parquet-mem-cache-size)"},
    {"--datafusion-runtime-type", "INFLUXDB3_DATAFUSION_RUNTIME_TYPE", true,
     "queries run on DuckDB"},
    {"--datafusion-runtime-disable-lifo-slot", "INFLUXDB3_DATAFUSION_RUNTIME_DISABLE_LIFO_SLOT",
     true, "queries run on DuckDB"},
    {"--datafusion-runtime-event-interval", "INFLUXDB3_DATAFUSION_RUNTIME_EVENT_INTERVAL", true,
     "queries run on DuckDB"},
    {"--datafusion-runtime-global-queue-interval",
     "INFLUXDB3_DATAFUSION_RUNTIME_GLOBAL_QUEUE_INTERVAL", true, "queries run on DuckDB"},
    {"--datafusion-runtime-max-blocking-threads",
     "INFLUXDB3_DATAFUSION_RUNTIME_MAX_BLOCKING_THREADS", true, "queries run on DuckDB"},
    {"--datafusion-runtime-max-io-events-per-tick",
     "INFLUXDB3_DATAFUSION_RUNTIME_MAX_IO_EVENTS_PER_TICK", true, "queries run on DuckDB"},
    {"--datafusion-runtime-thread-keep-alive", "INFLUXDB3_DATAFUSION_RUNTIME_THREAD_KEEP_ALIVE",
     true, "queries run on DuckDB"},
    {"--datafusion-runtime-thread-priority", "INFLUXDB3_DATAFUSION_RUNTIME_THREAD_PRIORITY", true,
     "queries run on DuckDB"},
    {"--disable-telemetry-upload", "INFLUXDB3_TELEMETRY_DISABLE_UPLOAD", false,
     "Riffle sends no telemetry"},
    {"--telemetry-endpoint", "INFLUXDB3_TELEMETRY_ENDPOINT", true, "Riffle sends no telemetry"},
    {"--disable-log-filter-noise-reduction", "INFLUXDB3_DISABLE_LOG_FILTER_NOISE_REDUCTION", false,
     "Riffle's log has no filter"},
    {"--serve-invocation-method", "INFLUXDB3_SERVE_INVOCATION_METHOD", true,
     "it only labels InfluxDB 3's telemetry"},
    {"--tcp-listener-file-path", "INFLUXDB3_TCP_LISTINER_FILE_PATH", true,
     "the port is in the start-up log line"},
    {"--log-filter", "INFLUXDB3_LOG_FILTER", true, "Riffle's log has no filter"},
    {"--max-concurrent-queries", "INFLUXDB3_MAX_CONCURRENT_QUERIES", true,
     "queries are not queued; --query-timeout and --exec-mem-pool-bytes bound them"},
    {"--parquet-mem-cache-prune-interval", "INFLUXDB3_PARQUET_MEM_CACHE_PRUNE_INTERVAL", true,
     "the cache is pruned as files are added or released, not on a timer"},
    {"--parquet-mem-cache-query-path-duration", "INFLUXDB3_PARQUET_MEM_CACHE_QUERY_PATH_DURATION",
     true, "the cache keeps every file a query may read"},
};

// The global flags of InfluxDB 3's IO runtime (given before `serve`): Riffle's HTTP threads.
constexpr const char* kIoRuntimeFlags[] = {
    "--io-runtime-type",
    "--io-runtime-disable-lifo-slot",
    "--io-runtime-event-interval",
    "--io-runtime-global-queue-interval",
    "--io-runtime-max-blocking-threads",
    "--io-runtime-max-io-events-per-tick",
    "--io-runtime-thread-keep-alive",
    "--io-runtime-thread-priority",
};

// A thread count from an environment variable InfluxDB 3 also reads under an older name.
int ThreadsFromEnv(const char* name) {
  const char* text = std::getenv(name);
  if (!text || !*text) return 0;
  char* end = nullptr;
  long n = std::strtol(text, &end, 10);
  if (*end != '\0' || n < 1 || n > 2048)
    throw CLI::ValidationError(
        name, "expected a number of threads from 1 to 2048, got '" + std::string(text) + "'");
  return static_cast<int>(n);
}

}  // namespace

void RegisterInfluxdb3Flags(CLI::App& app, CLI::App& serve,
                            const std::shared_ptr<ServerConfig>& cfg) {
  auto io_threads = std::make_shared<int>(0);
  app.add_option("--num-io-threads,--num-threads", *io_threads,
                 "(before `serve`) threads serving HTTP and gRPC connections (default: 4)")
      ->envname("INFLUXDB3_NUM_IO_THREADS")
      ->check(CLI::Range(1, 2048));
  auto io_values = std::make_shared<std::vector<std::string>>(std::size(kIoRuntimeFlags));
  auto given = std::make_shared<std::vector<CLI::Option*>>();
  for (size_t i = 0; i < std::size(kIoRuntimeFlags); ++i) {
    std::string env = std::string("INFLUXDB3_") + (kIoRuntimeFlags[i] + 2);
    for (auto& c : env) c = c == '-' ? '_' : static_cast<char>(std::toupper(c));
    given->push_back(app.add_option(kIoRuntimeFlags[i], (*io_values)[i],
                                    "(before `serve`) accepted for compatibility with InfluxDB 3; "
                                    "no effect: Riffle's HTTP server is not a tokio runtime")
                         ->envname(env));
  }
  auto threads = std::make_shared<int>(0);
  serve
      .add_option("--num-datafusion-threads,--datafusion-num-threads", *threads,
                  "threads a query may use (DuckDB's; default: one per core)")
      ->envname("INFLUXDB3_NUM_DATAFUSION_THREADS")
      ->check(CLI::Range(1, 2048));
  serve
      .add_flag("--wal-replay-fail-on-error", cfg->wal_replay_fail_on_error,
                "refuse to start when a WAL file is corrupt (default: log it, skip it and start)")
      ->envname("INFLUXDB3_WAL_REPLAY_FAIL_ON_ERROR");
  auto values = std::make_shared<std::vector<std::string>>(std::size(kInertFlags));
  size_t i = 0;
  for (const auto& f : kInertFlags) {
    std::string help =
        std::string("accepted for compatibility with InfluxDB 3; no effect: ") + f.why;
    // A flag is bound to a string too: add_flag(name, help) would bind it to `help`.
    CLI::Option* opt = f.takes_value ? serve.add_option(f.name, (*values)[i], help)
                                     : serve.add_flag(f.name, (*values)[i], help);
    opt->envname(f.env);
    given->push_back(opt);
    ++i;
  }
  serve.parse_complete_callback([cfg, threads, io_threads, given, values, io_values] {
    (void)values, (void)io_values;  // the inert flags' values live as long as the parser
    // InfluxDB 3's older spellings of the environment variables.
    cfg->query_threads = *threads ? *threads : ThreadsFromEnv("INFLUXDB3_DATAFUSION_NUM_THREADS");
    int io = *io_threads ? *io_threads : ThreadsFromEnv("INFLUXDB3_NUM_THREADS");
    if (io) cfg->http_threads = io;
    for (const CLI::Option* opt : *given)
      if (opt->count() > 0) cfg->inert_flags.push_back(opt->get_name());
  });
}

}  // namespace riffle::app
