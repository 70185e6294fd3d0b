#include "plugin/trigger_runner.h"

#include <algorithm>
#include <chrono>

#include "common/clock.h"
#include "common/log.h"
#include "plugin/plugin_source.h"

namespace riffle::plugin {

namespace {

std::string HumanDuration(int64_t ns) {
  std::string out;
  auto part = [&](int64_t v, const char* unit) {
    if (v) out += (out.empty() ? "" : " ") + std::to_string(v) + unit;
  };
  part(ns / 1000000000, "s");
  part(ns / 1000000 % 1000, "ms");
  part(ns / 1000 % 1000, "us");
  part(ns % 1000, "ns");
  return out.empty() ? "0s" : out;
}

// How long a plugin worker may take to end its run after the interrupt before it is killed.
constexpr int64_t kInterruptGraceNs = 1'000'000'000;

// system.processing_engine_runs' outcome of a failed run.
const char* OutcomeName(const python::CallOutcome& out, bool timed_out) {
  if (timed_out) return "timeout";
  return out.crash.empty() ? "error" : "crashed";
}

}  // namespace

TriggerRunner::TriggerRunner(ProcessingEngine* engine, catalog::Trigger def, ParsedSpec spec)
    : engine_(engine),
      def_(std::move(def)),
      spec_(std::move(spec)),
      code_({engine->options_.plugin_dir, engine->options_.plugin_repo}, def_.plugin_filename) {
  host_.write_sync = [this](const std::string& db, const std::string& lp, bool no_sync) {
    sync_lines_ += 1 + static_cast<int64_t>(std::count(lp.begin(), lp.end(), '\n'));
    return engine_->WriteLines(db, lp, no_sync);
  };
  host_.query = [this](const std::string& db, const std::string& sql, const query::Params& params)
      -> Result<std::unique_ptr<query::ResultStream>> {
    auto state = engine_->catalog_->State();
    return engine_->query_->QueryStream(*state, db, sql, params);
  };
  host_.log = [this](const std::string& level, const std::string& text) { engine_->Log(def_.name, level, text); };
  if (engine_->options_.isolate_plugins) {
    workers_ = std::make_unique<worker::WorkerPool>(engine_->WorkerOptionsNow());
  }
}

void TriggerRunner::PackagesChanged() {
  if (workers_) workers_->Retire(SitePackagesOf(engine_->options_.virtual_env));
}

python::CallOutcome TriggerRunner::Invoke(
    const std::function<python::CallOutcome(worker::Interpreter&)>& call) {
  if (workers_) return workers_->Run(call);
  worker::InProcess here;
  return call(here);
}

TriggerRunner::~TriggerRunner() { Stop(); }

void TriggerRunner::Start() {
  if (spec_.kind == ParsedSpec::Kind::kSchedule)
    thread_ = std::thread([this] { ScheduleLoop(); });
  else
    thread_ = std::thread([this] { WorkerLoop(); });
}

void TriggerRunner::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    tasks_.clear();
    async_waiting_.clear();
  }
  cv_.notify_all();
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // stopping itself (error behaviour "disable")
    return;
  }
  // A run in progress gets KeyboardInterrupt; in a worker process, one that ignores it is killed,
  // in the server it is left to finish alone.
  if (workers_) workers_->InterruptRunning(NowNanos(), kInterruptGraceNs);
  python::InterruptThread(python_thread_id_.load());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (in_run_.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (workers_) workers_->KillAll("the trigger was stopped while the plugin ran");
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (workers_ && in_run_.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (in_run_.load()) {
    engine_->Log(def_.name, "WARN", "trigger stopped while a plugin run was still going; it will finish alone");
    thread_.detach();
  } else {
    thread_.join();
  }
}

void TriggerRunner::CheckTimeout(int64_t now_ns) {
  if (workers_) workers_->CheckLimits(now_ns);
  int64_t deadline = run_deadline_ns_.load();
  if (deadline == 0 || now_ns < deadline || timed_out_.exchange(true)) return;
  // KeyboardInterrupt at the plugin's next Python bytecode. A plugin blocked inside one C call
  // only sees it when that call returns: in a worker process it is killed after the grace period
  // instead (CheckLimits), in the server it is left to run.
  if (workers_)
    workers_->InterruptRunning(now_ns, kInterruptGraceNs);
  else
    python::InterruptThread(python_thread_id_.load());
}

python::CallOutcome TriggerRunner::TimedCall(const std::function<python::CallOutcome()>& call, bool* timed_out) {
  timed_out_ = false;
  sync_lines_ = 0;
  in_run_ = true;
  if (!workers_) python_thread_id_ = python::CurrentThreadId();
  // Asynchronous runs overlap on their own threads; the timeout covers synchronous ones.
  if (def_.settings.run_timeout_ns > 0 && !def_.settings.run_async)
    run_deadline_ns_ = NowNanos() + def_.settings.run_timeout_ns;
  python::CallOutcome out = call();
  run_deadline_ns_ = 0;
  python_thread_id_ = 0;
  in_run_ = false;
  *timed_out = timed_out_.exchange(false) && !out.status.ok();
  if (*timed_out)
    out.status = Status::Unavailable("run timed out after " + HumanDuration(def_.settings.run_timeout_ns) +
                                     " (--run-timeout) and was interrupted");
  return out;
}

void TriggerRunner::Record(const char* kind, int64_t start_ns, const std::string& outcome, const std::string& error,
                           int64_t rows_in, int64_t lines_written, int attempt) {
  RunRecord r;
  r.database = def_.database;
  r.trigger = def_.name;
  std::string k = kind;
  r.kind = k.substr(0, k.find(' '));  // "wal plugin" → "wal"
  r.start_ns = start_ns;
  r.end_ns = NowNanos();
  r.outcome = outcome;
  r.error = error;
  r.rows_in = rows_in;
  r.lines_written = lines_written;
  r.attempt = attempt;
  engine_->runs_.Record(std::move(r));
}

size_t TriggerRunner::QueueCapacity() const {
  return def_.settings.queue_size > 0 ? static_cast<size_t>(def_.settings.queue_size) : engine_->options_.queue_capacity;
}

bool TriggerRunner::Enqueue(Task task) {
  if (def_.settings.run_async) {
    // Asynchronous triggers: every event runs at once on its own thread, up to
    // --async-trigger-concurrency-limit at a time; past it, events wait for a thread to finish
    // (and are refused, as the synchronous queue refuses them, once that many are waiting).
    size_t limit = engine_->options_.async_concurrency_limit;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return false;
      if (limit > 0 && static_cast<size_t>(async_runs_.load()) >= limit) {
        if (async_waiting_.size() >= QueueCapacity()) return false;
        async_waiting_.push_back(std::move(task));
        return true;
      }
      ++async_runs_;
    }
    auto self = shared_from_this();
    std::thread([self, task = std::move(task)]() mutable {
      python::ThreadScope scope;
      for (;;) {
        task();
        std::lock_guard lock(self->mu_);
        if (self->stopping_ || self->async_waiting_.empty()) break;
        task = std::move(self->async_waiting_.front());
        self->async_waiting_.pop_front();
      }
      --self->async_runs_;
    }).detach();
    return true;
  }
  std::lock_guard lock(mu_);
  if (stopping_ || tasks_.size() >= QueueCapacity()) return false;
  tasks_.push_back(std::move(task));
  cv_.notify_one();
  return true;
}

bool TriggerRunner::EnqueueWal(std::vector<wal::WriteOpPtr> ops) {
  auto self = shared_from_this();
  return Enqueue([self, ops = std::move(ops)] { self->RunWal(ops); });
}

bool TriggerRunner::EnqueueRequest(std::vector<std::pair<std::string, std::string>> query,
                                   std::map<std::string, std::string> headers, std::string body,
                                   std::function<void(HttpReply)> reply) {
  auto self = shared_from_this();
  return Enqueue([self, query = std::move(query), headers = std::move(headers), body = std::move(body), reply] {
    auto code = self->Code();
    if (!code.ok()) {
      self->engine_->Log(self->def_.name, "ERROR", "error running request plugin: " + code.status().message());
      return reply(HttpReply{500, nlohmann::json({{"error", code.status().message()}}).dump(), {}});
    }
    self->engine_->Log(self->def_.name, "INFO", "starting execution of request plugin.");
    int64_t start = NowNanos();
    bool timed_out = false;
    python::CallOutcome out = self->TimedCall(
        [&] {
          return self->Invoke([&](worker::Interpreter& interpreter) {
            return interpreter.CallRequest(*code, self->Context(), query, headers, body);
          });
        },
        &timed_out);
    if (!out.status.ok()) {
      std::string msg = timed_out || !out.crash.empty()
                            ? out.status.message()
                            : "Python function call failed: " + out.status.message();
      std::string detail = msg + (out.traceback.empty() || timed_out ? "" : "\n" + out.traceback);
      self->engine_->Log(self->def_.name, "ERROR", "error running request plugin: " + detail);
      self->Record("request plugin", start, OutcomeName(out, timed_out), detail, 0,
                   self->sync_lines_, 1);
      return reply(HttpReply{timed_out ? 504 : 500, nlohmann::json({{"error", msg}}).dump(), {}});
    }
    int64_t written = self->FlushQueuedWrites("request plugin", out) + self->sync_lines_;
    self->Record("request plugin", start, "success", "", 0, written, 1);
    self->engine_->Log(self->def_.name, "INFO", "finished execution in " + HumanDuration(NowNanos() - start));
    HttpReply r{out.http_status, std::move(out.http_body), std::move(out.http_headers)};
    reply(std::move(r));
  });
}

void TriggerRunner::WorkerLoop() {
  python::ThreadScope scope;
  if (workers_) workers_->Warm();
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void TriggerRunner::ScheduleLoop() {
  python::ThreadScope scope;
  if (workers_) workers_->Warm();
  // Catch-up semantics: the next time follows the previous *scheduled* time, so an overrun
  // synchronous run is followed by the missed runs back to back.
  std::optional<int64_t> next = spec_.next_after(NowNanos());
  while (next) {
    {
      std::unique_lock lock(mu_);
      auto wake = std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(*next)));
      if (cv_.wait_until(lock, wake, [this] { return stopping_; })) return;
    }
    int64_t scheduled = *next;
    if (def_.settings.run_async) {
      auto self = shared_from_this();
      Enqueue([self, scheduled] { self->RunScheduled(scheduled); });
    } else {
      RunScheduled(scheduled);
    }
    next = spec_.next_after(scheduled);
  }
}

python::CallContext TriggerRunner::Context() const {
  python::CallContext ctx;
  ctx.trigger_name = def_.name;
  ctx.database = def_.database;
  ctx.args = def_.arguments;
  ctx.cache_namespace = def_.database + "\x1f" + def_.name;
  ctx.host = &host_;
  return ctx;
}

Result<python::PluginCode> TriggerRunner::Code() { return code_.Get(); }

void TriggerRunner::RunWal(const std::vector<wal::WriteOpPtr>& ops) {
  // This flush's rows for the trigger's database, grouped by table in order of appearance.
  std::vector<python::TableRows> tables;
  std::map<std::string, size_t, std::less<>> index;
  for (const auto& op : ops) {
    if (op->db_name != def_.database) continue;
    for (uint32_t i = 0; i < op->batch.lines.size(); ++i) {
      std::string_view m = op->batch.lines[i].measurement;
      if (spec_.kind == ParsedSpec::Kind::kTable && m != spec_.table) continue;
      auto it = index.find(m);
      if (it == index.end()) {
        it = index.emplace(std::string(m), tables.size()).first;
        tables.push_back({std::string(m), {}});
      }
      tables[it->second].rows.emplace_back(op.get(), i);
    }
  }
  // A flush without rows for this trigger (another table, another database) is no event.
  if (tables.empty()) return;
  int64_t rows_in = 0;
  for (const auto& t : tables) rows_in += static_cast<int64_t>(t.rows.size());
  RunWithErrorBehavior("wal plugin", rows_in, [&] {
    auto code = Code();
    if (!code.ok()) {
      python::CallOutcome out;
      out.status = code.status();
      return out;
    }
    return Invoke([&](worker::Interpreter& interpreter) {
      return interpreter.CallProcessWrites(*code, Context(), tables);
    });
  });
}

void TriggerRunner::RunScheduled(int64_t scheduled_ns) {
  int64_t secs = scheduled_ns / 1000000000;
  RunWithErrorBehavior("schedule plugin", 0, [&] {
    auto code = Code();
    if (!code.ok()) {
      python::CallOutcome out;
      out.status = code.status();
      return out;
    }
    return Invoke([&](worker::Interpreter& interpreter) {
      return interpreter.CallScheduled(*code, Context(), secs);
    });
  });
}

void TriggerRunner::RunWithErrorBehavior(const char* kind, int64_t rows_in,
                                         const std::function<python::CallOutcome()>& call) {
  const std::string& behavior = def_.settings.error_behavior;
  int attempts = behavior == "retry" ? 1 + def_.settings.max_retries : 1;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    engine_->Log(def_.name, "INFO", std::string("starting execution of ") + kind + ".");
    int64_t start = NowNanos();
    bool timed_out = false;
    python::CallOutcome out = TimedCall(call, &timed_out);
    if (out.status.ok()) {
      int64_t written = FlushQueuedWrites(kind, out) + sync_lines_;
      Record(kind, start, "success", "", rows_in, written, attempt);
      engine_->Log(def_.name, "INFO", "finished execution in " + HumanDuration(NowNanos() - start));
      return;
    }
    std::string message = std::string("error executing ") + kind + ": " + out.status.message();
    if (!out.traceback.empty() && !timed_out) message += "\n" + out.traceback;
    engine_->Log(def_.name, "ERROR", message);
    Record(kind, start, OutcomeName(out, timed_out), message, rows_in, sync_lines_, attempt);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (behavior == "disable") {
      engine_->Log(def_.name, "ERROR", "disabling trigger " + def_.name + " after a failed run (error behavior: disable)");
      // Persisted in the catalog, so `show triggers` and a restart agree. The catalog change
      // stops this runner; do it off this thread.
      std::thread([engine = engine_, db = def_.database, name = def_.name] {
        (void)engine->SetTriggerEnabled(db, name, false);
      }).detach();
      return;
    }
    if (attempt < attempts) {
      int64_t backoff_ms = 100LL << (attempt - 1);
      engine_->Log(def_.name, "WARN",
                   "retrying in " + std::to_string(backoff_ms) + "ms (attempt " + std::to_string(attempt + 1) + " of " +
                       std::to_string(attempts) + ")");
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [this] { return stopping_; })) return;
    } else if (behavior == "retry") {
      engine_->Log(def_.name, "ERROR", "giving up after " + std::to_string(attempts) + " attempts");
    }
  }
}

int64_t TriggerRunner::FlushQueuedWrites(const char* kind, const python::CallOutcome& outcome) {
  int64_t lines = 0;
  // One all-or-nothing write per database, in first-use order.
  std::vector<std::pair<std::string, std::string>> per_db;
  for (const auto& w : outcome.writes) {
    auto it = std::find_if(per_db.begin(), per_db.end(), [&](const auto& p) { return p.first == w.database; });
    if (it == per_db.end()) {
      per_db.emplace_back(w.database, w.line);
    } else {
      it->second += "\n" + w.line;
    }
  }
  for (const auto& [db, lp] : per_db) {
    Status st = engine_->WriteLines(db, lp, /*no_sync=*/false);
    if (!st.ok())
      engine_->Log(def_.name, "ERROR",
                   std::string("error running ") + kind + ": error writing back lines to " + db + ": " + st.message());
    else
      lines += 1 + static_cast<int64_t>(std::count(lp.begin(), lp.end(), '\n'));
  }
  return lines;
}

}  // namespace riffle::plugin
