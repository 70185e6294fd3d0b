// QueryEngine on DuckDB: configuration lock-down, connections, statement checks, results.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <shared_mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "buffer/buffer.h"
#include "common/clock.h"
#include "common/text.h"
#include "duck/connection.h"
#include "duck/database.h"
#include "query/last_point.h"
#include "query/newest_bound.h"
#include "query/plan_hints.h"
#include "query/query.h"
#include "query/query_log.h"
#include "query/sql_compat.h"
#include "query/statement_scope.h"
#include "query/time_bounds.h"

namespace riffle::query {
namespace {

constexpr const char* kReadOnlyOnly =
    "only read-only queries are allowed: expected a SELECT statement (SHOW TABLES, EXPLAIN and "
    "information_schema queries are also accepted)";

using buffer::Buffer;
using buffer::DbSchema;
using buffer::kBufferCatalog;

// DataFusion functions that DuckDB lacks, defined once as macros in memory.main.
const char* kCompatMacros[] = {
    "CREATE OR REPLACE MACRO main.date_bin(stride, ts) AS "
    "time_bucket(stride, ts::TIMESTAMP, TIMESTAMP '1970-01-01 00:00:00'),"
    "(stride, ts, origin) AS time_bucket(stride, ts::TIMESTAMP, origin::TIMESTAMP)",
    // now() is TIMESTAMPTZ in DuckDB; InfluxDB compares it with the zone-less time column.
    "CREATE OR REPLACE MACRO main.riffle_now() AS get_current_timestamp()::TIMESTAMP",
    "CREATE OR REPLACE MACRO main.to_timestamp_nanos(x) AS "
    "CASE WHEN typeof(x) IN ('BIGINT','INTEGER','HUGEINT','UBIGINT') THEN "
    "make_timestamp_ns(x::BIGINT) "
    "ELSE x::TIMESTAMP_NS END",
    "CREATE OR REPLACE MACRO main.to_timestamp_micros(x) AS "
    "CASE WHEN typeof(x) IN ('BIGINT','INTEGER','HUGEINT','UBIGINT') THEN "
    "make_timestamp_ns(x::BIGINT * 1000) "
    "ELSE x::TIMESTAMP_NS END",
    "CREATE OR REPLACE MACRO main.to_timestamp_millis(x) AS "
    "CASE WHEN typeof(x) IN ('BIGINT','INTEGER','HUGEINT','UBIGINT') THEN "
    "make_timestamp_ns(x::BIGINT * 1000000) "
    "ELSE x::TIMESTAMP_NS END",
    "CREATE OR REPLACE MACRO main.to_timestamp_seconds(x) AS "
    "CASE WHEN typeof(x) IN ('BIGINT','INTEGER','HUGEINT','UBIGINT') THEN "
    "make_timestamp_ns(x::BIGINT * 1000000000) "
    "ELSE x::TIMESTAMP_NS END",
    "CREATE OR REPLACE MACRO main.from_unixtime(x) AS make_timestamp_ns(x::BIGINT * 1000000000)",
    // DataFusion aggregate names DuckDB spells differently.
    "CREATE OR REPLACE MACRO main.var(x) AS var_samp(x)",
    "CREATE OR REPLACE MACRO main.approx_median(x) AS approx_quantile(x, 0.5)",
    "CREATE OR REPLACE MACRO main.approx_distinct(x) AS approx_count_distinct(x)",
    "CREATE OR REPLACE MACRO main.approx_percentile_cont(x, p) AS approx_quantile(x, p)",
    "CREATE OR REPLACE MACRO main.regexp_like(s, p) AS regexp_matches(s, p)",
};

// The reason a stopped statement failed, when it was stopped for one (not a client's cancel).
Status Explained(const Cancellation* cancel, const Status& st) {
  if (!cancel) return st;
  std::string reason = cancel->reason();
  return reason.empty() ? st : Status::Timeout(reason);
}

// What the engine worked out about a statement text, kept because dashboards and plugins send
// the same text again and again: at most `max_entries` (all dropped when full), and nothing
// for a text longer than kMaxText.
template <typename V>
class StatementCache {
 public:
  static constexpr size_t kMaxText = 16 * 1024;
  explicit StatementCache(size_t max_entries) : max_entries_(max_entries) {}
  static bool Keeps(const std::string& sql) { return sql.size() <= kMaxText; }
  // The key of `sql` for what depends on the database and its catalog version.
  static std::string KeyFor(const catalog::CatalogState& state, const catalog::Database& db,
                            const std::string& sql) {
    return std::to_string(db.id) + "\x1f" + std::to_string(state.version) + "\x1f" + sql;
  }
  std::optional<V> Find(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void Put(std::string key, V value) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= max_entries_) entries_.clear();
    entries_.insert_or_assign(std::move(key), std::move(value));
  }

 private:
  const size_t max_entries_;
  std::mutex mu_;
  std::unordered_map<std::string, V> entries_;
};

class DuckEngine final : public QueryEngine {
 public:
  DuckEngine(EngineOptions options, duck::Database* db, Buffer* buffer)
      : options_(std::move(options)),
        db_(db),
        buffer_(buffer),
        query_log_(options_.query_log_size) {
    if (options_.query_timeout.count() > 0) watchdog_ = std::thread([this] { RunWatchdog(); });
  }
  ~DuckEngine() override {
    {
      std::lock_guard lock(watch_mu_);
      stop_watchdog_ = true;
    }
    watch_cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
  }

  // DataFusion's functions and casts, once for every connection.
  Status Init() {
    RIFFLE_ASSIGN_OR_RETURN(duck::Connection setup, duck::Connection::Open(*db_));
    for (const char* m : kCompatMacros) RIFFLE_RETURN_IF_ERROR(setup.Exec(m));
    return duck::RegisterCompatCasts(setup);
  }

  void SetFilePinner(FilePinner pinner) override { pinner_ = std::move(pinner); }
  void SetSystemTableProvider(SystemTableProvider provider) override {
    system_provider_ = std::move(provider);
  }
  void SetCacheTableProvider(CacheTableProvider provider) override { cache_provider_ = std::move(provider); }
  uint64_t OldestRunningQueryPublish() override {
    std::lock_guard lock(running_mu_);
    return running_.empty() ? UINT64_MAX : *running_.begin();
  }

  Result<std::unique_ptr<ResultStream>> QueryStream(const catalog::CatalogState& state,
                                                    const std::string& db, const std::string& sql,
                                                    const Params& params,
                                                    std::shared_ptr<Cancellation> cancel) override {
    return Start(state, db, sql, params, /*parquet_path=*/"", std::move(cancel));
  }

  Status QueryParquet(const catalog::CatalogState& state, const std::string& db,
                      const std::string& sql, const Params& params,
                      const std::string& path) override {
    auto stream = Start(state, db, sql, params, path, nullptr);
    if (!stream.ok()) return stream.status();
    Batch rows_written;  // COPY answers one row: the count
    for (;;) {
      auto more = (*stream)->Next(&rows_written);
      if (!more.ok()) return more.status();
      if (!*more) return Status::Ok();
    }
  }

  std::string ScratchPath(const std::string& suffix) override {
    return options_.scratch_dir + "/result-" + std::to_string(::getpid()) + "-" +
           std::to_string(counter_.fetch_add(1)) + suffix;
  }

 private:
  struct Conn {
    std::shared_ptr<duck::Connection> conn;
    uint32_t db_id = 0;  // whose schema is on the search path
    uint64_t files_seen = UINT64_MAX;  // the publish whose file lists it holds (Buffer::ReadViews)
    // Tables whose file list and staged rows (TimeRangeVariable) the last queries narrowed to
    // a time range (time_bounds.h); no range where what the connection holds is not known
    // (after a publish reset the file lists, or a SET failed): set again or reset next time.
    std::map<uint32_t, std::optional<buffer::TimeRange>> narrowed;
    // DuckDB's `disabled_optimizers` on it (query/plan_hints.h); nothing when unknown.
    std::optional<std::string> disabled_optimizers = std::string();
  };

  Result<Conn> Acquire() {
    {
      std::lock_guard lock(pool_mu_);
      if (!idle_.empty()) {
        Conn c = idle_.back();
        idle_.pop_back();
        return c;
      }
    }
    RIFFLE_ASSIGN_OR_RETURN(duck::Connection opened, duck::Connection::Open(*db_));
    return Conn{std::make_shared<duck::Connection>(std::move(opened)), 0, UINT64_MAX, {}};
  }
  void Release(Conn c) {
    std::lock_guard lock(pool_mu_);
    idle_.push_back(std::move(c));
  }

  // Everything a running query holds, given back when its stream ends or is dropped: the
  // result first (a connection runs one statement at a time), then the connection, then its
  // registration as a reader of the files published before it began.
  struct Lease {
    DuckEngine* engine;
    Conn conn;
    uint64_t began;
    std::string db, sql;
    int64_t started;
    std::shared_ptr<Cancellation> cancel;
    uint64_t log_id = 0;  // its system.queries entry
    std::shared_ptr<void> pinned;  // the Parquet files it reads, kept in the cache
    void Return(bool ok) {
      // Detached before the connection can run someone else's statement.
      if (cancel) cancel->Detach(conn.conn.get());
      engine->Release(conn);
      engine->query_log_.End(log_id, NowNanos() - started, ok, cancel && cancel->cancelled());
      {
        std::lock_guard lock(engine->running_mu_);
        engine->running_.erase(engine->running_.find(began));
      }
      engine->buffer_->EndScan();
      pinned.reset();
    }
  };

  class Stream final : public ResultStream {
   public:
    Stream(std::unique_ptr<duck::Rows> rows, Lease lease)
        : rows_(std::move(rows)),
          names_(rows_->column_names()),
          vector_formats_(rows_->VectorFormats()),
          lease_(std::move(lease)) {}
    ~Stream() override { Finish(false); }
    const std::vector<std::string>& column_names() const override { return names_; }
    Result<bool> Next(Batch* batch) override {
      if (!rows_) return false;
      return Ended(rows_->Next(batch));
    }
    Status ArrowSchemaOf(ArrowSchema* out) override {
      if (!rows_) return Status::InvalidArgument("the result has already ended");
      return rows_->ArrowSchemaOf(out);
    }
    Result<bool> NextArrow(ArrowArray* out) override {
      if (!rows_) return false;
      return Ended(rows_->NextArrow(out));
    }
    const std::optional<std::vector<std::string>>& VectorFormats() const override { return vector_formats_; }
    Result<bool> NextVectors(ArrowArray* out) override {
      if (!rows_) return false;
      return Ended(rows_->NextVectors(out));
    }
   private:
    // Ends the stream after its last batch or an error; an interrupted statement's error becomes
    // the reason it was stopped (the query timeout).
    Result<bool> Ended(Result<bool> more) {
      if (more.ok() && *more) return more;
      if (!more.ok()) more = Explained(lease_.cancel.get(), more.status());
      Finish(more.ok());
      return more;
    }
    void Finish(bool ok) {
      if (!rows_) return;
      rows_.reset();
      lease_.Return(ok);
    }
    std::unique_ptr<duck::Rows> rows_;
    std::vector<std::string> names_;
    std::optional<std::vector<std::string>> vector_formats_;
    Lease lease_;
  };

  Result<std::unique_ptr<ResultStream>> Start(const catalog::CatalogState& state,
                                              const std::string& db_name, const std::string& sql,
                                              const Params& params,
                                              const std::string& parquet_path,
                                              std::shared_ptr<Cancellation> cancel) {
    const catalog::Database* db = state.FindDatabase(db_name);
    if (!db) return Status::NotFound("database not found: " + db_name);
    auto rewritten = RewriteSql(sql, [&](const std::string& name, std::string* value) {
      for (const auto& [k, v] : params)
        if (k == name && std::holds_alternative<std::string>(v)) {
          *value = std::get<std::string>(v);
          return true;
        }
      return false;
    });
    if (!rewritten.ok()) return rewritten.status();
    auto acquired = Acquire();
    if (!acquired.ok()) return acquired.status();
    // Registered before the views are bound, so the files they list outlive this query.
    Lease lease{this, *acquired, 0, db_name, sql, NowNanos(), nullptr, 0};
    lease.log_id = query_log_.Begin(db_name, sql, lease.started);
    buffer_->BeginScan();  // after any checkpoint in progress; Return() ends it
    {
      std::lock_guard lock(running_mu_);
      lease.began = buffer_->PublishCount();
      running_.insert(lease.began);
    }
    if (options_.query_timeout.count() > 0) {
      if (!cancel) cancel = std::make_shared<Cancellation>();
      Watch(cancel);
    }
    if (cancel) {
      lease.cancel = cancel;
      if (!cancel->Attach(lease.conn.conn.get())) {
        lease.Return(false);
        return Status::Cancelled("the query was cancelled");
      }
    }
    auto result = BindAndRun(lease, state, *db, sql, *rewritten, params, parquet_path);
    if (!result.ok()) {
      Status st = Explained(lease.cancel.get(), result.status());
      lease.Return(false);
      return st;
    }
    return std::unique_ptr<ResultStream>(
        std::make_unique<Stream>(std::move(result).value(), std::move(lease)));
  }

  // Runs the statement with the files of the tables it names pinned in the cache and the
  // connection's file lists set, under Buffer::ReadViews. Where the names in the text do not
  // say which tables a query reads (a file of another table is missing), every table of the
  // database is pinned and the statement run again.
  Result<std::unique_ptr<duck::Rows>> BindAndRun(Lease& lease, const catalog::CatalogState& state,
                                                 const catalog::Database& db, const std::string& sql,
                                                 const RewrittenSql& rewritten, const Params& params,
                                                 const std::string& parquet_path) {
    Conn& conn = lease.conn;
    if (conn.db_id != db.id) {
      RIFFLE_RETURN_IF_ERROR(
          conn.conn->Exec("SET search_path = " + QuoteLiteral(std::string(kBufferCatalog) + "." +
                                                              DbSchema(db.id) + ",memory.main")));
      conn.db_id = db.id;
    }
    RIFFLE_ASSIGN_OR_RETURN(std::string optimizers_off,
                            CheckScopeCached(*conn.conn, state, db, rewritten));
    // Before the views lock: system tables ask the persister, which may be publishing.
    RIFFLE_RETURN_IF_ERROR(MaterializeVirtualTables(*conn.conn, state, db, rewritten));
    std::set<uint32_t> tables = TablesNamedIn(db, sql);
    auto ranges = TimeRangesRead(conn, db, tables, rewritten, params);
    // The bounds above are those of the statement as written: the rewrite reads the table
    // only where it did (query/last_point.h).
    std::optional<LastPointRun> last_point = LastPointRewrite(conn, state, db, rewritten);
    NewestBound newest =
        NewestBoundFor(*buffer_, db, last_point ? &last_point->shape : nullptr, &ranges);
    auto narrow = [&](const std::map<uint32_t, buffer::TimeRange>& r) {
      return ExecNarrowing(conn, r);
    };
    for (bool all = false;; all = true) {
      if (all) {
        for (const auto& [name, t] : db.tables) tables.insert(t->id);
        if (newest.table) ranges.erase(newest.table->id);
      }
      auto views = PinFiles(tables, ranges, &lease.pinned);
      if (!views.ok()) return views.status();
      std::string variables = buffer_->FileVariablesSql(&conn.files_seen);
      if (!variables.empty())  // every file list whole again, the staged ranges as they were
        for (auto& [id, range] : conn.narrowed) range.reset();
      const auto narrowed_before = conn.narrowed;
      variables += NarrowingSql(conn, ranges);
      if (optimizers_off != conn.disabled_optimizers) {
        variables += optimizers_off.empty()
                         ? std::string("RESET disabled_optimizers;")
                         : "SET disabled_optimizers = " + QuoteLiteral(optimizers_off) + ";";
        conn.disabled_optimizers = optimizers_off;
      }
      if (!variables.empty()) {
        if (Status st = conn.conn->Exec(variables); !st.ok()) {
          conn.files_seen = UINT64_MAX;
          for (const auto& [id, range] : narrowed_before) conn.narrowed[id].reset();
          for (const auto& [id, range] : ranges) conn.narrowed[id].reset();
          conn.disabled_optimizers.reset();
          return st;
        }
      }
      if (newest.table) {
        if (Status st = NarrowToNewest(*buffer_, *conn.conn, &newest, &ranges, narrow); !st.ok()) {
          conn.files_seen = UINT64_MAX;  // the next statement sets whole what this one narrowed
          for (const auto& [id, range] : ranges) conn.narrowed[id].reset();
          conn.narrowed[newest.table->id].reset();
          return st;
        }
      }
      const RewrittenSql& run = last_point ? last_point->sql : rewritten;
      auto result = RunOn(conn, run, params, parquet_path);
      if (result.ok() && NewestBoundMoved(*buffer_, newest)) {
        // Older rows became readable while the statement bound its reads: again, reading all.
        result =
            Status::Cancelled("");  // the narrowed run's rows go before the connection runs more
        const uint32_t table_id = newest.table->id;
        ranges.erase(table_id);
        newest = {};
        if (Status st = ExecNarrowing(conn, ranges); !st.ok()) {
          conn.files_seen = UINT64_MAX;
          conn.narrowed[table_id].reset();
          return st;
        }
        result = RunOn(conn, run, params, parquet_path);
      }
      if (result.ok() || all || !pinner_ ||
          result.status().message().find("No files found that match") == std::string::npos)
        return result;
    }
  }

  // The time range in which the statement reads each of `tables` that has enough Parquet files
  // for narrowing its list to pay (see query/time_bounds.h): the bounds are found once per
  // statement text and evaluated per run (they may use now() or parameters), or once with the
  // analysis when they are literals. Below kNarrowFromFiles files only literal bounds narrow,
  // and only from a text's second run: analysing a new text costs about 1 ms, more than opening
  // a few files, and dashboards send new literal times on every refresh.
  std::map<uint32_t, buffer::TimeRange> TimeRangesRead(Conn& conn, const catalog::Database& db,
                                                       const std::set<uint32_t>& tables,
                                                       const RewrittenSql& rewritten,
                                                       const Params& params) {
    constexpr size_t kNarrowFromFiles = 16;  // fewer open faster than the bounds evaluate
    if (tables.empty()) return {};  // nothing to narrow: not worth the views lock or an analysis
    size_t most_files = 0;
    {
      auto views = buffer_->ReadViews();
      for (uint32_t id : tables) most_files = std::max(most_files, buffer_->FileCount(id));
    }
    // A table with fewer files still gains: its staged rows are scanned whole without a range.
    std::shared_ptr<const StatementTimeBounds> bounds;
    auto known = bounds_by_text_.Find(rewritten.sql);  // null: seen once, not analysed
    if (known && *known) {
      bounds = std::move(*known);
    } else if (!known && most_files < kNarrowFromFiles) {
      if (bounds_by_text_.Keeps(rewritten.sql)) bounds_by_text_.Put(rewritten.sql, nullptr);
      return {};
    } else {
      bounds = std::make_shared<const StatementTimeBounds>(
          AnalyzeTimeBounds(*conn.conn, WithoutExplain(rewritten.sql)));
      if (bounds_by_text_.Keeps(rewritten.sql)) bounds_by_text_.Put(rewritten.sql, bounds);
    }
    if (bounds->bounds.empty()) return {};
    if (!bounds->constant_ranges && most_files < kNarrowFromFiles) return {};
    auto by_name = EvaluateTimeBounds(*conn.conn, *bounds, [&](duck::Statement& stmt) {
      return BindParams(stmt, rewritten, params);
    });
    std::map<uint32_t, buffer::TimeRange> ranges;
    for (const auto& [name, t] : db.tables) {
      auto it = by_name.find(AsciiLower(name));
      if (it != by_name.end() && tables.count(t->id)) ranges[t->id] = it->second;
    }
    return ranges;
  }

  struct LastPointRun {
    RewrittenSql sql;
    LastPointShape shape;
  };
  // The statement with the newest row of each key found first (query/last_point.h), or
  // nothing when it does not ask for that; decided once per database, catalog version and text.
  std::optional<LastPointRun> LastPointRewrite(Conn& conn, const catalog::CatalogState& state,
                                               const catalog::Database& db,
                                               const RewrittenSql& rewritten) {
    if (WithoutExplain(rewritten.sql).size() != rewritten.sql.size()) return std::nullopt;
    if (!last_point_by_text_.Keeps(rewritten.sql)) return std::nullopt;
    std::string key = last_point_by_text_.KeyFor(state, db, rewritten.sql);
    std::optional<LastPoint> found;
    if (auto known = last_point_by_text_.Find(key)) {
      found = std::move(*known);
    } else {
      std::set<std::string> tables;
      for (const auto& [name, t] : db.tables) tables.insert(AsciiLower(name));
      found = LastPointSql(*conn.conn, rewritten.sql,
                           [&tables](const std::string& name) { return tables.count(name) > 0; });
      last_point_by_text_.Put(std::move(key), found);
    }
    if (!found) return std::nullopt;
    LastPointRun out{rewritten, std::move(found->shape)};
    out.sql.sql = std::move(found->sql);
    return out;
  }

  Status ExecNarrowing(Conn& conn, const std::map<uint32_t, buffer::TimeRange>& ranges) {
    std::string sql = NarrowingSql(conn, ranges);
    return sql.empty() ? Status::Ok() : conn.conn->Exec(sql);
  }

  // Under the views lock: the SET VARIABLE statements that narrow the file lists and staged
  // rows of the tables in `ranges` on `conn`, and give back the whole lists and rows to those
  // the last queries narrowed.
  std::string NarrowingSql(Conn& conn, const std::map<uint32_t, buffer::TimeRange>& ranges) {
    std::string sql;
    for (auto it = conn.narrowed.begin(); it != conn.narrowed.end();) {
      if (ranges.count(it->first)) {
        ++it;
        continue;
      }
      sql += buffer_->FileVariableSql(it->first, std::nullopt);
      sql += buffer::Buffer::TimeRangeVariableSql(it->first, std::nullopt);
      it = conn.narrowed.erase(it);
    }
    for (const auto& [id, range] : ranges) {
      auto it = conn.narrowed.find(id);
      if (it != conn.narrowed.end() && it->second == range) continue;
      sql += buffer_->FileVariableSql(id, range);
      sql += buffer::Buffer::TimeRangeVariableSql(id, range);
      conn.narrowed[id] = range;
    }
    return sql;
  }

  template <typename Statement>  // duck::Statement or duck::ParsedStatement
  static Status BindParams(Statement& stmt, const RewrittenSql& rewritten, const Params& params) {
    for (const auto& [name, value] : params) {
      if (rewritten.params_used_as_tables.count(name)) continue;
      RIFFLE_RETURN_IF_ERROR(
          stmt.Bind(name, ToValue(value)).status());  // a parameter the SQL lacks is ignored
    }
    return Status::Ok();
  }

  // Refuses, before DuckDB binds anything, a statement that names what is not `db`'s: another
  // database's schema, DuckDB's catalog functions, files (see query/statement_scope.h).
  // Dashboards and plugins send the same text again and again: a statement that passed is
  // remembered for its database and catalog version (a new version may change what a name
  // resolves to, so it checks again). The check costs about 230 µs (bench/query_bench.cc).
  // Returns the optimizers the statement does not need (query/plan_hints.h), found on the same
  // parse tree.
  Result<std::string> CheckScopeCached(duck::Connection& conn, const catalog::CatalogState& state,
                                       const catalog::Database& db, const RewrittenSql& rewritten) {
    std::string key;
    if (scope_passed_.Keeps(rewritten.sql)) {
      key = scope_passed_.KeyFor(state, db, rewritten.sql);
      if (auto known = scope_passed_.Find(key)) return std::move(*known);
    }
    RIFFLE_ASSIGN_OR_RETURN(std::string optimizers_off, CheckScope(conn, db, rewritten));
    if (!key.empty()) scope_passed_.Put(std::move(key), optimizers_off);
    return optimizers_off;
  }

  static Result<std::string> CheckScope(duck::Connection& conn, const catalog::Database& db,
                                        const RewrittenSql& rewritten) {
    RIFFLE_ASSIGN_OR_RETURN(std::string text, conn.ParseTreeJson(WithoutExplain(rewritten.sql)));
    nlohmann::json tree = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (tree.is_discarded()) return Status::Internal("json_serialize_sql gave text that is not JSON");
    if (tree.value("error", false)) {
      // A syntax error is reported by DuckDB's prepare, which parses before it binds.
      if (tree.value("error_type", "") == "parser") return std::string();
      return Status::InvalidArgument(kReadOnlyOnly);
    }
    const auto& statements = tree["statements"];
    if (!statements.is_array() || statements.size() != 1)
      return std::string();  // prepare says how many
    StatementScope scope{db.name, {}, {}};
    for (const auto& [name, t] : db.tables) scope.tables.insert(AsciiLower(name));
    if (rewritten.needs_info_tables || rewritten.needs_info_columns) {
      scope.virtual_tables.insert(kInfoTablesName);
      scope.virtual_tables.insert(kInfoColumnsName);
    }
    for (const auto& name : rewritten.system_tables)
      scope.virtual_tables.insert(AsciiLower(kSystemPrefix + name));
    for (const auto& call : rewritten.cache_calls)
      scope.virtual_tables.insert(AsciiLower(call.temp_name));
    RIFFLE_RETURN_IF_ERROR(CheckStatementScope(statements[0], scope));
    return OptimizersNotNeeded(statements[0]);
  }

  // Tables of `db` whose name appears in `sql`, ignoring case (a superset of those it reads).
  static std::set<uint32_t> TablesNamedIn(const catalog::Database& db, const std::string& sql) {
    std::string text = AsciiLower(sql);
    std::set<uint32_t> out;
    for (const auto& [name, t] : db.tables) {
      std::string n = AsciiLower(name);
      std::string quoted;  // as an identifier in double quotes, quotes doubled
      for (char c : n) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      if (text.find(n) != std::string::npos || text.find(quoted) != std::string::npos)
        out.insert(t->id);
    }
    return out;
  }

  // The files of `tables` pinned into `*pinned` (downloaded without holding up publishes) and
  // the views lock that keeps them the files the views list.
  Result<std::shared_lock<std::shared_mutex>> PinFiles(
      const std::set<uint32_t>& tables, const std::map<uint32_t, buffer::TimeRange>& ranges,
      std::shared_ptr<void>* pinned) {
    if (!pinner_) return buffer_->ReadViews();
    for (int attempt = 0;; ++attempt) {
      uint64_t publish;
      std::vector<std::string> keys;
      {
        auto views = buffer_->ReadViews();
        publish = buffer_->PublishCount();
        keys = buffer_->FileKeys(tables, ranges);
        if (attempt == 3) {  // publishes keep coming: pin under the lock
          RIFFLE_ASSIGN_OR_RETURN(*pinned, pinner_(keys));
          return views;
        }
      }
      RIFFLE_ASSIGN_OR_RETURN(*pinned, pinner_(keys));
      auto views = buffer_->ReadViews();
      if (buffer_->PublishCount() == publish) return views;
    }
  }

  // Parses, checks, binds and starts the statement on `conn`, whose search path, virtual
  // tables and file lists are set. DuckDB binds and plans it once, as it starts
  // (duck::ParsedStatement): a prepared statement over Parquet files is bound twice.
  Result<std::unique_ptr<duck::Rows>> RunOn(Conn& conn, const RewrittenSql& rewritten,
                                            const Params& params, const std::string& parquet_path) {
    // Exactly one read-only statement; everything else (SET, INSTALL, COPY, ATTACH, DDL...) is
    // refused. Nothing is kept for reuse: DuckDB 1.4.4 running a kept prepared streaming
    // ORDER BY again, after rows were added to its table, returned corrupt strings and then
    // crashed (a C test of DuckDB alone does too).
    auto stmt = conn.conn->ParseOne(rewritten.sql);
    if (!stmt.ok())
      return Status::InvalidArgument(WithoutInternalSuggestion(stmt.status().message()));
    if (!(*stmt)->IsReadOnlyQuery())
      return Status::InvalidArgument(kReadOnlyOnly);
    if (!parquet_path.empty()) {
      // Wrapped in COPY; the inner text is the same single SELECT just checked.
      stmt = conn.conn->ParseOne("COPY (\n" + rewritten.sql + "\n) TO " +
                                 QuoteLiteral(parquet_path) + " (FORMAT parquet)");
      if (!stmt.ok()) return stmt.status();
    }
    RIFFLE_RETURN_IF_ERROR(BindParams(**stmt, rewritten, params));
    // Streaming: DuckDB produces chunks as the consumer fetches them, so memory does not grow
    // with the row count.
    auto rows = (*stmt)->ExecuteStreaming();
    if (!rows.ok())
      return Status::InvalidArgument(WithoutInternalSuggestion(rows.status().message()));
    return rows;
  }

  // DuckDB suggests near names from every schema ("Did you mean "pg_enum"?", another
  // database's "db_3.mem"); those are not the user's tables, so the hint goes.
  static std::string WithoutInternalSuggestion(std::string err) {
    size_t at = err.find("\nDid you mean \"");
    if (at == std::string::npos) return err;
    size_t end = err.find("\"?", at + 15);
    if (end == std::string::npos) return err;
    std::string name = err.substr(at + 15, end - (at + 15));
    bool internal = name.rfind("pg_", 0) == 0 || name.rfind("db_", 0) == 0 ||
                    name.rfind("duckdb_", 0) == 0 || name.rfind("riffle_", 0) == 0 ||
                    name.rfind("sqlite_", 0) == 0 || name.find('.') != std::string::npos;
    if (internal) err.erase(at, end + 2 - at);
    return err;
  }

  Status MaterializeVirtualTables(duck::Connection& conn, const catalog::CatalogState& state,
                                  const catalog::Database& db, const RewrittenSql& rewritten) {
    std::vector<VirtualTable> tables;
    if (rewritten.needs_info_tables || rewritten.needs_info_columns) {
      VirtualTable t{kInfoTablesName, {}, {}};
      VirtualTable c{kInfoColumnsName, {}, {}};
      using CT = catalog::ColumnType;
      t.columns = {{"table_catalog", CT::kString},
                   {"table_schema", CT::kString},
                   {"table_name", CT::kString},
                   {"table_type", CT::kString}};
      c.columns = {{"table_catalog", CT::kString}, {"table_schema", CT::kString},
                   {"table_name", CT::kString},    {"column_name", CT::kString},
                   {"data_type", CT::kString},     {"is_nullable", CT::kString}};
      for (const auto& [name, table] : db.tables) {
        t.rows.push_back(
            {std::string("public"), std::string("iox"), name, std::string("BASE TABLE")});
        std::vector<const catalog::Column*> cols;
        for (const auto& col : table->columns) cols.push_back(&col);
        std::sort(cols.begin(), cols.end(), [](auto* a, auto* b) { return a->name < b->name; });
        for (const auto* col : cols)
          c.rows.push_back({std::string("public"), std::string("iox"), name, col->name,
                            std::string(catalog::InfluxDataTypeName(col->type)),
                            std::string(col->type == CT::kTime ? "NO" : "YES")});
      }
      for (const char* sys : kSystemTableNames)
        t.rows.push_back({std::string("public"), std::string("system"), std::string(sys),
                          std::string("BASE TABLE")});
      for (const char* info : {"tables", "columns"})
        t.rows.push_back({std::string("public"), std::string("information_schema"),
                          std::string(info), std::string("VIEW")});
      tables.push_back(std::move(t));
      tables.push_back(std::move(c));
    }
    for (const auto& name : rewritten.system_tables) {
      Result<VirtualTable> vt =
          name == "queries"  ? Result<VirtualTable>(query_log_.Table(db.name))
          : system_provider_ ? system_provider_(db.name, name)
                             : Status::InvalidArgument("system table '" + name + "' not found");
      if (!vt.ok()) return vt.status();
      vt->name = kSystemPrefix + name;
      tables.push_back(std::move(vt).value());
    }
    for (const auto& call : rewritten.cache_calls) {
      if (!cache_provider_) return Status::InvalidArgument("caches are not available here");
      RIFFLE_ASSIGN_OR_RETURN(VirtualTable vt, cache_provider_(state, db.name, call.last, call.table, call.name));
      vt.name = call.temp_name;
      tables.push_back(std::move(vt));
    }
    for (const auto& vt : tables) RIFFLE_RETURN_IF_ERROR(LoadVirtualTable(conn, vt));
    return Status::Ok();
  }

  static Status LoadVirtualTable(duck::Connection& conn, const VirtualTable& vt) {
    std::vector<std::pair<std::string, duck::ColumnKind>> columns;
    for (const auto& [n, t] : vt.columns) columns.emplace_back(n, buffer::ColumnKindOf(t));
    return conn.LoadTempTable(vt.name, columns, vt.rows);
  }

  // --query-timeout: each query's deadline; the watchdog cancels the ones that pass theirs.
  void Watch(const std::shared_ptr<Cancellation>& cancel) {
    std::lock_guard lock(watch_mu_);
    deadlines_.emplace(std::chrono::steady_clock::now() + options_.query_timeout, cancel);
    watch_cv_.notify_all();
  }
  void RunWatchdog() {
    std::unique_lock lock(watch_mu_);
    while (!stop_watchdog_) {
      if (deadlines_.empty()) {
        watch_cv_.wait(lock);
        continue;
      }
      auto first = deadlines_.begin();
      if (watch_cv_.wait_until(lock, first->first) != std::cv_status::timeout) continue;
      auto now = std::chrono::steady_clock::now();
      while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
        if (auto c = deadlines_.begin()->second.lock())
          c->Cancel("query exceeded --query-timeout of " + options_.query_timeout_text +
                    ": it was stopped; narrow it (a time range, LIMIT) or raise the limit");
        deadlines_.erase(deadlines_.begin());
      }
    }
  }

  EngineOptions options_;
  duck::Database* db_;
  Buffer* buffer_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  std::multimap<std::chrono::steady_clock::time_point, std::weak_ptr<Cancellation>> deadlines_;
  bool stop_watchdog_ = false;
  std::thread watchdog_;
  std::mutex running_mu_;
  FilePinner pinner_;
  std::multiset<uint64_t> running_;  // the publish count each running query began at
  std::mutex pool_mu_;
  // CheckScopeCached's statements that passed, with the optimizers they do not need.
  StatementCache<std::string> scope_passed_{4096};
  // TimeRangesRead's analyses; null for a text seen once over a table of few files.
  StatementCache<std::shared_ptr<const StatementTimeBounds>> bounds_by_text_{1024};
  StatementCache<std::optional<LastPoint>> last_point_by_text_{1024};  // LastPointRewrite
  std::vector<Conn> idle_;
  std::atomic<uint64_t> counter_{0};
  SystemTableProvider system_provider_;
  CacheTableProvider cache_provider_;
  QueryLog query_log_;
};

}  // namespace

void Cancellation::Cancel(std::string reason) {
  std::lock_guard lock(mu_);
  if (!cancelled_) reason_ = std::move(reason);
  cancelled_ = true;
  for (auto* conn : running_) conn->Interrupt();
}

std::string Cancellation::reason() const {
  std::lock_guard lock(mu_);
  return reason_;
}

bool Cancellation::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

bool Cancellation::Attach(duck::Connection* conn) {
  std::lock_guard lock(mu_);
  if (cancelled_) return false;
  running_.insert(conn);
  return true;
}

void Cancellation::Detach(duck::Connection* conn) {
  std::lock_guard lock(mu_);
  running_.erase(conn);
}

Result<QueryResult> QueryEngine::Query(const catalog::CatalogState& state, const std::string& db,
                                       const std::string& sql, const Params& params) {
  auto stream = QueryStream(state, db, sql, params);
  if (!stream.ok()) return stream.status();
  return Collect(**stream);
}

Result<std::unique_ptr<QueryEngine>> QueryEngine::Open(EngineOptions options, duck::Database* db,
                                                       buffer::Buffer* buffer) {
  auto engine = std::make_unique<DuckEngine>(std::move(options), db, buffer);
  RIFFLE_RETURN_IF_ERROR(engine->Init());
  return std::unique_ptr<QueryEngine>(std::move(engine));
}

}  // namespace riffle::query
