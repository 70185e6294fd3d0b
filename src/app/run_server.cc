// Wiring: object store → catalog → query engine/buffer → WAL (replay, then flushing) →
// write path → HTTP API. Stops cleanly on SIGINT/SIGTERM, flushing queued writes.
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/node_lock.h"
#include "app/server_config.h"
#include "app/startup.h"
#include "auth/token_store.h"
#include "buffer/buffer.h"
#include "cache/cache.h"
#include "catalog/catalog.h"
#include "cluster/cluster.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "duck/database.h"
#include "flight/flight.h"
#include "http/api.h"
#include "http/http.h"
#include "objstore/local_files.h"
#include "objstore/object_store.h"
#include "objstore/s3_store.h"
#include "persist/persister.h"
#include "plugin/engine.h"
#include "query/query.h"
#include "rowdelete/row_deleter.h"
#include "wal/wal.h"
#include "write/writer.h"

namespace riffle::app {

namespace {

// serve --admin-token-file: the admin token in the file (made by `create token --admin --offline`)
// exists from this start on, so a deployment can be provisioned before the server first runs.
// A token of that name already there wins, as in InfluxDB 3.
Status ImportAdminTokenFile(auth::TokenStore& tokens, const std::string& path) {
  RIFFLE_ASSIGN_OR_RETURN(std::string text, objstore::ReadLocalFile(path));
  if (struct stat st {}; ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    log::Warn(std::string("Admin token file has insecure permissions: ") + mode + ". Consider using chmod 0600.");
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("token") || !j["token"].is_string())
    return Status::InvalidArgument("expected JSON {\"token\": \"apiv3_...\", \"name\": \"_admin\"}");
  std::string name = j.value("name", std::string(auth::kOperatorTokenName));
  std::optional<int64_t> expiry;
  if (j.contains("expiry_millis") && j["expiry_millis"].is_number_integer()) expiry = j["expiry_millis"].get<int64_t>();
  auto imported = tokens.ImportAdmin(name, j["token"].get<std::string>(), expiry);
  if (imported.status().code() == Code::kAlreadyExists) {
    log::Info("Admin token '" + name + "' already exists, skipping initialization");
    return Status::Ok();
  }
  if (imported.ok()) log::Info("Admin token '" + name + "' initialized from " + path);
  return imported.status();
}

}  // namespace

int RunServer(const ServerConfig& config) {
  // Block the shutdown signals in every thread; the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Every connection, WAL and Parquet file is a descriptor: take what the hard limit allows
  // rather than the 1,024 a shell usually starts with.
  if (struct rlimit files; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  // Request bodies and parsed batches are large, short-lived buffers. A fixed mmap threshold
  // returns them to the OS when freed; glibc's adaptive one would keep raising it and leave
  // gigabytes of freed memory in its arenas under sustained ingest.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);

  std::unique_ptr<objstore::ObjectStore> store;
  // scratch: DuckDB's temporary files; parquet_dir: where DuckDB reads (and snapshots write)
  // Parquet files; cache_dir: local copies of a remote store's Parquet objects.
  std::string scratch, persist_root, parquet_dir, cache_dir;
  std::error_code ec;
  const bool clustered = !config.cluster_id.empty();
  auto has_mode = [&config](const char* mode) { return config.modes.count(mode) > 0; };
  if (config.object_store == "file") {
    std::filesystem::create_directories(config.data_dir, ec);
    if (ec) {
      std::cerr << "Error: cannot create --data-dir " << config.data_dir << ": " << ec.message()
                << "\n";
      return 1;
    }
    persist_root =
        std::filesystem::weakly_canonical(std::filesystem::absolute(config.data_dir)).string();
    store = objstore::NewFileStore(persist_root);
    scratch = std::filesystem::absolute(config.data_dir).string() + "/.tmp";
    // Queries may read only the snapshots' Parquet files, never the WAL or the catalog; in a
    // cluster, those of every node.
    parquet_dir = clustered ? persist_root : persist_root + "/" + config.node_id + "/dbs";
  } else if (config.object_store == "s3") {
    auto opened = objstore::NewS3Store(config.s3);
    if (!opened.ok()) {
      std::cerr << "Error: object store s3: " << opened.status().message() << "\n";
      return 1;
    }
    store = std::move(opened).value();
    std::string local = !config.data_dir.empty()
                            ? config.data_dir
                            : std::filesystem::temp_directory_path().string() + "/riffle-" + config.node_id;
    local = std::filesystem::absolute(local).string();
    scratch = local + "/.tmp";
    cache_dir = parquet_dir = local + "/.cache";
  } else {
    store = objstore::NewMemoryStore();
    scratch =
        std::filesystem::temp_directory_path().string() + "/riffle-" + std::to_string(::getpid());
  }
  std::filesystem::create_directories(scratch, ec);
  // Before anything is read or written: a second server of this node on this directory would
  // replay and delete the first one's WAL (app/node_lock.h).
  if (config.object_store != "memory") {
    if (Status st = LockNode(scratch, config.node_id); !st.ok()) {
      std::cerr << "Error: " << st.message() << "\n";
      return 1;
    }
  }
  // The memory store's scratch directory belongs to this process alone: removed on the way out,
  // after everything declared below (DuckDB and its temporary files) is gone.
  struct RemoveOnExit {
    std::string dir;
    ~RemoveOnExit() {
      std::error_code ignored;
      if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
    }
  } remove_scratch{config.object_store == "memory" ? scratch : std::string()};

  // Nodes of a cluster write one catalog: only create-only puts keep two changes made at the
  // same moment from overwriting each other.
  if (clustered) {
    auto atomic = store->CreateOnlyIsAtomic(config.cluster_id + "/nodes/" + config.node_id + ".probe");
    if (!atomic.ok()) {
      std::cerr << "Error: object store " << store->Describe() << ": " << atomic.status().message() << "\n";
      return 1;
    }
    if (!*atomic)
      log::Warn("object store " + store->Describe() +
                " does not enforce create-only puts (If-None-Match: *): catalog changes made on two nodes "
                "at the same moment can overwrite each other; make schema changes through one node");
  }
  // A cluster's nodes share the catalog and the tokens, under the cluster id.
  const std::string shared_prefix = clustered ? config.cluster_id : config.node_id;
  catalog::Catalog catalog(store.get(), shared_prefix,
                           {config.max_databases, config.max_tables, config.max_columns_per_table});
  catalog.SetShared(clustered);
  if (Status st = catalog.Load(); !st.ok()) {
    std::cerr << "Error: cannot load the catalog: " << st.message() << "\n";
    return 1;
  }
  if (Status st = catalog.EnsureInternalDatabase(); !st.ok()) {
    std::cerr << "Error: cannot create the _internal database: " << st.message() << "\n";
    return 1;
  }
  if (!parquet_dir.empty()) std::filesystem::create_directories(parquet_dir, ec);
  std::unique_ptr<cluster::Follower> follower;  // a cluster node's catch-up loop (below)
  std::unique_ptr<cluster::Compactor> compactor;  // a cluster's compact node (below)
  // One DuckDB: the write buffer's tables in a compressed in-memory catalog, queries over them
  // and the Parquet files; SQL may touch only the scratch and Parquet directories.
  duck::DatabaseOptions duck_options{
      .threads = config.query_threads,
      .compressed_catalogs = {buffer::kDataCatalogs[0], buffer::kDataCatalogs[1]},
      .allowed_directories = {}};
  if (!scratch.empty()) duck_options.allowed_directories.push_back(scratch);
  if (!scratch.empty() && !parquet_dir.empty())
    duck_options.allowed_directories.push_back(parquet_dir);
  if (config.exec_mem_pool_bytes > 0) {
    duck_options.memory_limit_bytes = config.exec_mem_pool_bytes;
    duck_options.spill_directory = scratch + "/spill";
  }
  auto duck = duck::Database::Open(duck_options);
  if (!duck.ok()) {
    std::cerr << "Error: " << duck.status().message() << "\n";
    return 1;
  }
  buffer::Buffer write_buffer(duck->get(), scratch,
                              config.parquet_compression.empty() ? buffer::kDefaultParquetCodec
                                                                 : config.parquet_compression);
  auto engine = query::QueryEngine::Open({.scratch_dir = scratch,
                                          .query_timeout = config.query_timeout,
                                          .query_timeout_text = config.query_timeout_text,
                                          .query_log_size = config.query_log_size},
                                         duck->get(), &write_buffer);
  if (!engine.ok()) {
    std::cerr << "Error: " << engine.status().message() << "\n";
    return 1;
  }
  query::QueryEngine* qe = engine->get();
  if (Status st = write_buffer.SyncSchema(*catalog.State()); !st.ok())
    log::Error("schema sync: " + st.message());
  // Before publication: a query that finds a new table in the catalog finds its view too.
  catalog.AddPrePublishListener(
      [&write_buffer](const catalog::CatalogState&, const catalog::CatalogState& after) {
        if (Status st = write_buffer.SyncSchema(after); !st.ok())
          log::Error("schema sync: " + st.message());
      });

  // Each flush is one file; on S3 one PUT, so there flushes are at most one per interval.
  auto min_gap = config.wal_min_flush_gap.value_or(
      config.object_store == "s3" ? config.wal_flush_interval : std::chrono::milliseconds(10));
  wal::Wal wal(store.get(),
               {config.node_id, config.wal_flush_interval, config.wal_max_write_buffer_size,
                config.wal_flush_bytes, min_gap, config.wal_replay_fail_on_error});
  // Parquet files live as local files of the store (DuckDB writes and reads them there).
  auto local_files = objstore::NewLocalFiles(
      store.get(), {cache_dir, config.parquet_cache_bytes, config.parquet_cache_prune_fraction});
  if (local_files && local_files->Stats())  // a cache: queries pin the files they read
    qe->SetFilePinner([files = local_files.get()](const std::vector<std::string>& keys) {
      return files->Pin(keys);
    });
  // Start-up order: catalog → snapshot manifest (Parquet files) → only the WAL files after it.
  persist::Persister persister(
      {config.node_id, config.wal_snapshot_size, config.snapshot_buffer_bytes, config.snapshot_rows,
       config.snapshotted_wal_files_to_keep, config.gen1_duration.count(),
       config.retention_check_interval.count(), config.compaction_min_files,
       // A cluster's files are merged by its compactor (below) and adopted by their node.
       has_mode("compact") && !clustered, clustered ? config.cluster_id : "",
       // Query nodes read a file until their next look at this node's manifest.
       clustered ? std::max<int64_t>(300'000'000'000, 10 * std::chrono::nanoseconds(config.replication_interval).count())
                 : 0,
       std::chrono::nanoseconds(config.wal_flush_interval).count()},
      store.get(), local_files.get(), &catalog, &write_buffer, qe, &wal);
  // Listening starts now, before the snapshots are loaded and the WAL replayed: until the
  // server is ready, /health reports the progress and every other request gets a 503.
  StartupState startup;
  std::atomic<http::Api*> ready_api{nullptr};
  std::atomic<flight::FlightServer*> ready_flight{nullptr};
  http::Server server({config.http_bind, config.max_http_request_size, config.http_threads,
                       [&ready_flight](int fd) {
                         if (auto* flight = ready_flight.load())
                           flight->Adopt(fd);
                         else
                           ::close(fd);  // a gRPC client retries once the server is ready
                       },
                       config.tls_cert, config.tls_key, config.tls_min_version},
                      [&ready_api, &startup](http::Request&& req, http::Reply reply) {
                        if (auto* api = ready_api.load()) return api->Handle(std::move(req), std::move(reply));
                        reply(StartingResponse(req, startup));
                      });
  if (Status st = server.Start(); !st.ok()) {
    std::cerr << "Error: " << st.message() << "\n";
    return 1;
  }
  // A node without ingest has no data of its own: a query node's data comes from the others.
  const bool ingest = has_mode("ingest");
  startup.phase = "loading the snapshots";
  auto covered = ingest ? persister.Load() : Result<uint64_t>(uint64_t{0});
  if (!covered.ok()) {
    std::cerr << "Error: cannot load the snapshot manifest: " << covered.status().message() << "\n";
    return 1;
  }
  catalog.AddListener([&persister](const catalog::CatalogState&, const catalog::CatalogState&) {
    if (Status st = persister.Prune(/*expired=*/false); !st.ok())
      log::Error("pruning Parquet files: " + st.message());
  });
  // Each replayed file goes to the buffer as soon as it is decoded (a bulk append: its rows are
  // committed in whole row groups), so that at most the decoders' window of files is held.
  size_t replayed = 0, replay_files = 0;
  std::vector<wal::WriteOpPtr> replayed_deletes;
  int64_t replay_started = NowNanos(), appending_ns = 0;
  uint64_t last_replayed = 0;
  // A replayed file the buffer refuses rows of stops snapshots, as a live flush does.
  auto timed_append = [&](const std::function<Status()>& append) {
    int64_t t = NowNanos();
    if (Status st = append(); !st.ok())
      persister.AppendFailed(last_replayed, "WAL replay: " + st.message());
    appending_ns += NowNanos() - t;
  };
  startup.phase = kReplayingPhase;
  int64_t replay_logged = replay_started;
  write_buffer.BeginBulkAppend();
  Status replay = wal.Replay(
      [&](uint64_t sequence, std::vector<wal::WriteOpPtr>&& ops) {
        ++replay_files;
        last_replayed = sequence;
        if (NowNanos() - replay_logged > 2'000'000'000) {
          replay_logged = NowNanos();
          log::Info("replaying the WAL: " + std::to_string(replay_files) + " of " +
                    std::to_string(startup.replay.files_total.load()) + " files, " +
                    std::to_string(replayed) + " lines so far");
        }
        for (const auto& op : ops) {
          if (op->row_delete) replayed_deletes.push_back(op);
          replayed += op->batch.lines.size();
        }
        timed_append([&] { return write_buffer.Append(*catalog.State(), ops); });
      },
      *covered, &startup.replay);
  timed_append([&] { return write_buffer.EndBulkAppend(); });
  if (!replay.ok()) {
    std::cerr << "Error: WAL replay failed: " << replay.message() << "\n";
    return 1;
  }
  // Deletes the replay found, which no manifest records as done, are applied to the Parquet
  // files before any query is served.
  persister.QueueRowDeletes(replayed_deletes, [&write_buffer](uint64_t seq) {
    return write_buffer.TakeDeletedRows(seq);
  });
  if (Status st = persister.ApplyRowDeletes(); !st.ok())
    log::Error(
        "row deletes found in the WAL could not be applied to the Parquet files yet (retrying): " +
        st.message());
  if (replayed)
    log::Info("replayed " + std::to_string(replayed) + " lines from " + std::to_string(replay_files) +
              " WAL files in " + std::to_string((NowNanos() - replay_started) / 1'000'000) + " ms (" +
              std::to_string(appending_ns / 1'000'000) + " ms appending to the buffer)");
  write::Writer writer(&catalog, &wal);
  if (!ingest)
    writer.RefuseWrites("node " + config.node_id + " runs in mode " + config.modes_text +
                        ", without ingest: send writes to an ingest node of cluster " + config.cluster_id);
  plugin::EngineOptions engine_options;
  engine_options.plugin_dir = config.plugin_dir;
  engine_options.plugin_repo = config.plugin_repo;
  if (!config.virtual_env.empty()) engine_options.virtual_env = config.virtual_env;
  engine_options.run_triggers = has_mode("process");
  for (const auto& kind : config.restrict_triggers_to)
    engine_options.allowed_trigger_kinds.insert(kind == "wal_flush" ? "wal" : kind);
  engine_options.package_management = !config.disable_package_management;
  engine_options.async_concurrency_limit = config.async_trigger_concurrency_limit;
  engine_options.isolate_plugins = config.plugin_isolation == "process";
  engine_options.plugin_memory_limit_bytes = config.plugin_memory_limit_bytes;
  plugin::ProcessingEngine processing(engine_options, &catalog, &writer, qe);
  // Gauges read when /metrics is scraped.
  metrics::AddCollector([&write_buffer, &persister, &catalog, &local_files](std::string* out) {
    if (auto cache = local_files ? local_files->Stats() : std::nullopt) {
      metrics::Gauge("riffle_parquet_cache_bytes", "Bytes of Parquet copies in the local cache",
                     {{"", static_cast<double>(cache->bytes)}}, out);
      metrics::Gauge("riffle_parquet_cache_limit_bytes", "Size limit of the local Parquet cache",
                     {{"", static_cast<double>(cache->limit_bytes)}}, out);
      metrics::Gauge("riffle_parquet_cache_files", "Parquet copies in the local cache",
                     {{"", static_cast<double>(cache->files)}}, out);
      metrics::Gauge("riffle_parquet_cache_hits_total", "Parquet files a query found in the cache",
                     {{"", static_cast<double>(cache->hits)}}, out);
      metrics::Gauge("riffle_parquet_cache_misses_total", "Parquet files downloaded for a query",
                     {{"", static_cast<double>(cache->misses)}}, out);
      metrics::Gauge("riffle_parquet_cache_evictions_total", "Parquet copies evicted from the cache",
                     {{"", static_cast<double>(cache->evictions)}}, out);
    }
    metrics::Gauge("riffle_buffer_bytes", "Bytes held by the in-memory write buffer",
                   {{"", static_cast<double>(write_buffer.MemoryBytes())}}, out);
    metrics::Gauge(
        "riffle_buffer_staged_rows",
        "Buffered rows not yet moved into their table's DuckDB storage (a row group at a time)",
        {{"", static_cast<double>(write_buffer.StagedRowCount())}}, out);
    auto state = catalog.State();
    std::vector<std::pair<std::string, double>> files, bytes;
    for (const auto& [db_id, totals] : persister.FilesPerDatabase()) {
      std::string name = std::to_string(db_id);
      for (const auto& [n, db] : state->databases)
        if (db->id == db_id) name = n;
      files.emplace_back(name, static_cast<double>(totals.first));
      bytes.emplace_back(name, static_cast<double>(totals.second));
    }
    metrics::Gauge("riffle_parquet_files", "Parquet files persisted, by database", files, out,
                   "db");
    metrics::Gauge("riffle_parquet_bytes", "Bytes of Parquet files persisted, by database", bytes,
                   out, "db");
  });
  cache::Caches caches;  // last value and distinct value caches, filled by every WAL flush
  catalog.AddListener([&caches](const catalog::CatalogState&, const catalog::CatalogState& after) {
    caches.Prune(after);  // a dropped cache, table or database takes its values with it
  });
  // Row deletes: a node of a cluster owns only its own files, and the others' copies of its
  // rows would keep them; so only a node alone deletes.
  rowdelete::RowDeleter row_deleter(&catalog, &wal, &persister);
  row_deleter.OnDeleted([&caches, &catalog, qe](const std::string& db, const std::string& table) {
    if (Status st = caches.Refill(*catalog.State(), *qe, db, table); !st.ok())
      log::Warn("refilling the caches of table '" + table +
                "' after a row delete: " + st.message());
  });
  if (clustered)
    row_deleter.Refuse("row deletes are not supported in a cluster yet (--cluster-id " +
                       config.cluster_id + "): each ingest node owns its own files");
  qe->SetSystemTableProvider(
      [&processing, &persister, &caches, &catalog, &follower, &row_deleter, ingest](
          const std::string& db, const std::string& table) -> Result<query::VirtualTable> {
        if (table == "row_deletes") return row_deleter.SystemTable(*catalog.State(), db);
        if (table == "parquet_files")
          return !ingest && follower ? follower->ParquetFilesTable(db) : persister.ParquetFilesTable(db);
        if (db == "_internal" && (table == "databases" || table == "tables")) {
          auto state = catalog.State();
          return table == "databases" ? query::InternalDatabasesTable(*state) : query::InternalTablesTable(*state);
        }
        if (table == "influxdb_schema") {
          auto state = catalog.State();
          const catalog::Database* d = state->FindDatabase(db);
          if (!d) return Status::NotFound("database not found: " + db);
          return query::InfluxdbSchemaTable(*d);
        }
        if (table == "last_caches" || table == "distinct_caches")
          return caches.SystemTable(*catalog.State(), db, table == "last_caches");
        return processing.SystemTable(db, table);
      });
  qe->SetCacheTableProvider([&caches](const catalog::CatalogState& state, const std::string& db, bool last,
                                      const std::string& table, const std::string& name) {
    return caches.Table(state, db, last, table, name);
  });
  auth::TokenStore tokens(store.get(), shared_prefix);
  if (Status st = tokens.Load(); !st.ok()) {
    std::cerr << "Error: cannot load the tokens: " << st.message() << "\n";
    return 1;
  }
  if (!config.admin_token_file.empty() && !config.without_auth) {
    if (Status st = ImportAdminTokenFile(tokens, config.admin_token_file); !st.ok()) {
      std::cerr << "Error: Failed to initialize admin token from file " << config.admin_token_file << ": "
                << st.message() << "\n";
      return 1;
    }
  }
  // A cluster node announces itself and follows the others: catalog and tokens always, and a
  // query node without ingest serves the ingest nodes' data.
  if (clustered) {
    if (Status st = cluster::RegisterNode(store.get(), config.cluster_id, {config.node_id, config.modes, 0});
        !st.ok()) {
      std::cerr << "Error: cannot register node " << config.node_id << " in cluster " << config.cluster_id
                << ": " << st.message() << "\n";
      return 1;
    }
    // A node without ingest that queries or processes follows the ingest nodes' writes: their
    // rows fill its buffer (query) and caches, and reach its WAL triggers (process).
    const bool follows_writes = !ingest && (has_mode("query") || has_mode("process"));
    follower = std::make_unique<cluster::Follower>(
        cluster::FollowerOptions{config.cluster_id, config.node_id, config.replication_interval, follows_writes},
        store.get(), local_files.get(), &catalog, &tokens, &write_buffer, qe);
    follower->OnNewWrites([&caches, &catalog, &processing](const std::vector<wal::WriteOpPtr>& ops) {
      caches.Apply(*catalog.State(), ops);
      processing.OnWalFlush(ops);
    });
    if (Status st = follower->CatchUp(); !st.ok())
      log::Warn("cluster: first catch-up with the other nodes failed (retrying): " + st.message());
    if (has_mode("compact") && local_files)
      compactor = std::make_unique<cluster::Compactor>(
          cluster::CompactorOptions{config.cluster_id, {config.node_id, config.modes, 0, 0},
                                    config.compaction_check_interval, config.compaction_min_files},
          store.get(), local_files.get(), &catalog, &write_buffer);
  }
  // Replayed WAL is not re-delivered to plugins; triggers start after replay.
  startup.phase = "starting the processing engine";
  if (Status st = processing.Start(); !st.ok()) {
    std::cerr << "Error: cannot start the processing engine: " << st.message() << "\n";
    return 1;
  }
  // A write is acknowledged once its rows are in the buffer and the caches (queryable); the
  // snapshot check (a DuckDB query of its memory) and the WAL triggers come after, so that a
  // 1-line write to an idle server waits for neither. A flush with row deletes does it all
  // before: the deletes' requests wait for their effect.
  auto has_deletes = [](const std::vector<wal::WriteOpPtr>& ops) {
    return std::any_of(ops.begin(), ops.end(), [](const auto& op) { return op->row_delete; });
  };
  auto after_append = [&](uint64_t sequence, std::chrono::steady_clock::time_point flushed_at,
                          const std::vector<wal::WriteOpPtr>& ops, bool deletes) {
    persister.AfterFlush(sequence, flushed_at);
    if (!deletes) return processing.OnWalFlush(ops);
    std::vector<wal::WriteOpPtr> writes;  // plugins see writes only
    for (const auto& op : ops)
      if (!op->row_delete) writes.push_back(op);
    processing.OnWalFlush(writes);
  };
  wal.Start(
      [&](uint64_t sequence, std::chrono::steady_clock::time_point flushed_at,
          const std::vector<wal::WriteOpPtr>& ops) {
        persister.BeforeAppend(sequence);
        if (Status st = write_buffer.Append(*catalog.State(), ops); !st.ok())
          persister.AppendFailed(sequence, st.message());
        caches.Apply(*catalog.State(), ops);
        if (!has_deletes(ops)) return;
        // Row deletes are queued before AfterFlush may freeze rows written after them.
        persister.QueueRowDeletes(
            ops, [&write_buffer](uint64_t seq) { return write_buffer.TakeDeletedRows(seq); });
        after_append(sequence, flushed_at, ops, true);
      },
      [&](uint64_t sequence, std::chrono::steady_clock::time_point flushed_at,
          const std::vector<wal::WriteOpPtr>& ops) {
        if (!has_deletes(ops)) after_append(sequence, flushed_at, ops, false);
      });
  if (ingest) persister.Start();
  if (follower) follower->Start();
  if (compactor) compactor->Start();
  // The caches start warm: every cache the catalog defines is filled from the rows already stored.
  startup.phase = "warming the last value and distinct value caches";
  {
    auto state = catalog.State();
    for (const auto& [name, db] : state->databases)
      if (!db->deleted && (!db->last_caches.empty() || !db->distinct_caches.empty()))
        if (Status st = caches.Warm(*state, *qe, name); !st.ok())
          log::Warn("cannot warm the caches of database " + name + ": " + st.message());
  }

  http::Api api(&catalog, &writer, qe, config.max_http_request_size);
  http::RegisterEngineRoutes(api, &processing);
  http::RegisterTokenRoutes(api, &tokens, config.without_auth);
  http::RegisterCacheRoutes(api, &catalog, &caches, qe);
  http::RegisterBackupRoutes(
      api, store.get(), &persister, config.node_id, shared_prefix,
      clustered
          ? "backups are not supported in a cluster yet (--cluster-id " + config.cluster_id + ")"
      : !local_files ? "backups need a store that keeps files (--object-store file or s3)"
                     : "");
  api.EnableConsole(!config.disable_ui);
  api.SetRowDeleter(&row_deleter);
  api.SetAuth(
      {&tokens, config.without_auth, config.disable_authz,
       [&processing](const std::string& path) { return processing.RequestRouteAt(path); }});
  if (config.without_auth)
    log::Warn("started --without-auth: every request is accepted and token endpoints are disabled");
  else if (tokens.Empty())
    log::Warn(
        "no token exists yet, so requests are accepted without one; `influxdb3 create token "
        "--admin` turns "
        "authentication on");
  // Arrow Flight on the same port: the HTTP server hands gRPC connections over.
  auto flight_server = flight::FlightServer::Start({&catalog, qe, &tokens, config.without_auth});
  if (!flight_server.ok()) {
    std::cerr << "Error: " << flight_server.status().message() << "\n";
    return 1;
  }
  flight::FlightServer* flight = flight_server->get();
  ready_flight = flight;
  ready_api = &api;  // serving for real from here
  log::Info("Riffle (influxdb3-compatible) listening on " + config.http_bind + " (port " +
            std::to_string(server.port()) + "), node " + config.node_id +
            (clustered ? " of cluster " + config.cluster_id + " (mode " + config.modes_text + ")" : "") +
            ", object store " + store->Describe());

  for (const auto& flag : config.inert_flags)
    log::Warn(flag +
              " is accepted for compatibility with InfluxDB 3 and has no effect in Riffle "
              "(`influxdb3 serve --help` says what Riffle does instead)");
  int sig = 0;
  sigwait(&signals, &sig);
  log::Info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", shutting down");
  int64_t stopping_since = NowNanos();
  // Whatever holds the shutdown up (a snapshot, a plugin, a stuck client), it ends in time:
  // every acknowledged write is in the WAL already.
  std::thread([timeout = config.shutdown_timeout] {
    std::this_thread::sleep_for(timeout);
    log::Error("shutdown took longer than --shutdown-timeout (" + std::to_string(timeout.count()) +
               " ms): exiting now; every acknowledged write is in the WAL");
    std::_Exit(1);
  }).detach();
  // Writes already read are answered first (they wait for the next WAL flush).
  server.Stop(std::min<std::chrono::milliseconds>(config.shutdown_timeout / 2, std::chrono::seconds(10)));
  flight->Stop();
  if (follower) follower->Stop();
  if (compactor) compactor->Stop();
  processing.Stop();
  persister.Stop();
  wal.Stop();
  log::Info("stopped in " + std::to_string((NowNanos() - stopping_since) / 1'000'000) + " ms");
  return 0;
}

}  // namespace riffle::app
