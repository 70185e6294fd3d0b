// One running trigger: its worker thread (WAL events, requests) or scheduler thread, the
// error behaviour, and the queued writes a run leaves behind.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "catalog/catalog.h"
#include "plugin/engine.h"
#include "plugin/plugin_source.h"
#include "plugin/trigger_spec.h"
#include "python/python_runtime.h"

namespace riffle::plugin {

class TriggerRunner : public std::enable_shared_from_this<TriggerRunner> {
 public:
  TriggerRunner(ProcessingEngine* engine, catalog::Trigger def, ParsedSpec spec);
  ~TriggerRunner();

  void Start();
  // Stops accepting work, interrupts a run in progress, and waits a bounded time for it.
  void Stop();

  const catalog::Trigger& def() const { return def_; }
  size_t QueueCapacity() const;
  const ParsedSpec& spec() const { return spec_; }

  // Interrupts the run in progress once it is past the trigger's --run-timeout, and holds worker
  // processes to their limits (called by the engine's watchdog thread every 20 ms).
  void CheckTimeout(int64_t now_ns);
  // Packages were installed: plugin workers started from now on can import them.
  void PackagesChanged();

  // False when the queue is full (the event is dropped and logged by the caller).
  bool EnqueueWal(std::vector<wal::WriteOpPtr> ops);
  bool EnqueueRequest(std::vector<std::pair<std::string, std::string>> query,
                      std::map<std::string, std::string> headers, std::string body,
                      std::function<void(HttpReply)> reply);

 private:
  using Task = std::function<void()>;
  bool Enqueue(Task task);
  void WorkerLoop();
  void ScheduleLoop();
  void RunWal(const std::vector<wal::WriteOpPtr>& ops);
  void RunScheduled(int64_t scheduled_ns);
  // Runs `call` with the trigger's error behaviour (WAL and schedule triggers).
  void RunWithErrorBehavior(const char* kind, int64_t rows_in, const std::function<python::CallOutcome()>& call);
  // Returns the number of lines written.
  int64_t FlushQueuedWrites(const char* kind, const python::CallOutcome& outcome);
  // Runs one plugin call under the trigger's timeout; `timed_out` tells whether it was
  // interrupted for it.
  python::CallOutcome TimedCall(const std::function<python::CallOutcome()>& call, bool* timed_out);
  void Record(const char* kind, int64_t start_ns, const std::string& outcome, const std::string& error,
              int64_t rows_in, int64_t lines_written, int attempt);
  python::CallContext Context() const;
  // Runs a plugin call in the trigger's worker process (process isolation) or in the server's
  // interpreter.
  python::CallOutcome Invoke(const std::function<python::CallOutcome(worker::Interpreter&)>& call);
  Result<python::PluginCode> Code();

  ProcessingEngine* engine_;
  catalog::Trigger def_;
  ParsedSpec spec_;
  python::HostServices host_;
  CachedPluginCode code_;
  std::unique_ptr<worker::WorkerPool> workers_;  // process isolation only

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<int> async_runs_{0};
  std::deque<Task> async_waiting_;  // --async-trigger-concurrency-limit: runs waiting for a slot (mu_)
  std::atomic<unsigned long> python_thread_id_{0};  // of a run in progress, for interruption
  std::atomic<bool> in_run_{false};                 // a synchronous run is in progress
  std::atomic<int64_t> run_deadline_ns_{0};         // 0: no run in progress or no timeout
  std::atomic<bool> timed_out_{false};
  std::atomic<int64_t> sync_lines_{0};              // lines written with write_sync* this run
};

}  // namespace riffle::plugin
