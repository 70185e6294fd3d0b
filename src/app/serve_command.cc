#include <cstdlib>
#include <memory>

#include "app/serve.h"
#include "app/server_config.h"
#include "schedule/schedule.h"

namespace riffle::app {

void RegisterServeCommand(CLI::App& app, std::function<int()>* action) {
  auto cfg = std::make_shared<ServerConfig>();
  auto flush = std::make_shared<std::string>("1s");
  auto node_from_env = std::make_shared<std::string>();
  auto ignored = std::make_shared<std::vector<std::string>>(32);
  CLI::App* serve = app.add_subcommand("serve", "Run the database server");
  serve->add_option("--node-id,--host-id", cfg->node_id, "identifier of this node (prefix of its files)")
      ->envname("INFLUXDB3_NODE_IDENTIFIER_PREFIX");
  serve->add_option("--node-id-from-env", *node_from_env, "read the node id from this environment variable")
      ->envname("INFLUXDB3_NODE_IDENTIFIER_FROM_ENV");
  serve->add_option("--object-store", cfg->object_store, "memory or file")
      ->envname("INFLUXDB3_OBJECT_STORE")
      ->check(CLI::IsMember({"memory", "memory-throttled", "file"}));
  serve->add_option("--data-dir", cfg->data_dir, "directory of the file object store")->envname("INFLUXDB3_DB_DIR");
  serve->add_option("--plugin-dir", cfg->plugin_dir, "directory of processing-engine plugins")
      ->envname("INFLUXDB3_PLUGIN_DIR");
  serve->add_option("--plugin-repo", cfg->plugin_repo, "base URL for gh: plugins")->envname("INFLUXDB3_PLUGIN_REPO");
  serve->add_option("--http-bind", cfg->http_bind, "address to listen on")->envname("INFLUXDB3_HTTP_BIND_ADDR");
  serve->add_option("--max-http-request-size", cfg->max_http_request_size, "largest request body in bytes")
      ->envname("INFLUXDB3_MAX_HTTP_REQUEST_SIZE")
      ->check(CLI::PositiveNumber);
  serve->add_option("--wal-flush-interval", *flush, "how often the WAL is flushed (e.g. 1s, 100ms)")
      ->envname("INFLUXDB3_WAL_FLUSH_INTERVAL");
  serve->add_option("--wal-max-write-buffer-size", cfg->wal_max_write_buffer_size, "writes queued per flush")
      ->envname("INFLUXDB3_WAL_MAX_WRITE_BUFFER_SIZE");
  serve->add_option("--wal-flush-bytes", cfg->wal_flush_bytes,
                    "flush early once this many bytes of writes are queued (0: only on the interval)")
      ->envname("INFLUXDB3_WAL_FLUSH_BYTES");
  serve->add_flag("--without-auth", cfg->without_auth, "accept requests without a token")
      ->envname("INFLUXDB3_START_WITHOUT_AUTH");
  serve->add_option("--max-databases", cfg->max_databases, "most databases (default 100; Core has 5)")
      ->envname("INFLUXDB3_MAX_DATABASES")->check(CLI::PositiveNumber);
  serve->add_option("--max-tables", cfg->max_tables, "most tables across databases (default 4000)")
      ->envname("INFLUXDB3_MAX_TABLES")->check(CLI::PositiveNumber);
  serve->add_option("--max-columns-per-table", cfg->max_columns_per_table, "most tag+field columns (default 500)")
      ->envname("INFLUXDB3_MAX_COLUMNS_PER_TABLE")->check(CLI::PositiveNumber);
  // Accepted for compatibility with InfluxDB 3 command lines; not used by Riffle yet.
  int i = 0;
  for (const char* name : {"--gen1-duration", "--wal-snapshot-size", "--snapshotted-wal-files-to-keep",
                           "--exec-mem-pool-bytes", "--log-filter", "--virtual-env-location", "--package-manager",
                           "--query-log-size", "--max-concurrent-queries", "--force-snapshot-mem-threshold",
                           "--retention-check-interval", "--disable-authz", "--bucket"})
    serve->add_option(name, (*ignored)[i++], "accepted for compatibility");
  serve->callback([cfg, flush, node_from_env, action] {
    if (cfg->node_id.empty() && !node_from_env->empty()) {
      const char* v = std::getenv(node_from_env->c_str());
      if (!v || !*v) throw CLI::ValidationError("--node-id-from-env", "environment variable " + *node_from_env + " is not set");
      cfg->node_id = v;
    }
    if (cfg->node_id.empty())
      throw CLI::RequiredError("--node-id (or --node-id-from-env) is required, e.g. --node-id node0");
    auto d = schedule::ParseHumanDuration(*flush);
    if (!d.ok()) throw CLI::ValidationError("--wal-flush-interval", d.status().message());
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    if (ms.count() < 1) throw CLI::ValidationError("--wal-flush-interval", "must be at least 1ms");
    cfg->wal_flush_interval = ms;
    if (cfg->object_store == "file" && cfg->data_dir.empty()) {
      const char* home = std::getenv("HOME");
      cfg->data_dir = std::string(home ? home : ".") + "/.influxdb3";
    }
    *action = [cfg] { return RunServer(*cfg); };
  });
}

}  // namespace riffle::app
