// Plugins in worker processes (serve --plugin-isolation process): each trigger's plugin runs in
// a Python process that the server starts and supervises, so that a plugin that exits, crashes,
// allocates without bound or hangs in a C call ends only its own run.
//
// The worker is this same binary (`influxdb3 __plugin-worker`, started through /proc/self/exe)
// running the python component's calls; what the plugin asks of the database (queries, sync
// writes, logs, caches) comes back over the channel (wire.h) and is answered on the calling
// thread with the run's HostServices. A trigger's own cache lives in its worker as Python objects
// (plugins mutate what they cached in place); the global cache, shared by every trigger, lives
// in the server, values pickled.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "python/python_runtime.h"

namespace riffle::worker {

// The global cache (use_global=True) of plugins that run in workers, shared by every trigger's
// worker: key → pickled value with a TTL. A trigger's own cache stays in its worker, as live
// Python objects.
class SharedCache {
 public:
  void Put(const std::string& key, std::string value, double ttl_seconds);
  std::optional<std::string> Get(const std::string& key);
  bool Delete(const std::string& key);

 private:
  struct Entry {
    std::string value;
    int64_t expires_ns = 0;  // 0: never
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

struct WorkerOptions {
  std::vector<std::string> site_packages;
  int64_t memory_limit_bytes = 0;  // --plugin-memory-limit: resident bytes; 0: none
  SharedCache* cache = nullptr;
};

// Where a plugin call runs: a worker process, or the server's own interpreter. Callers name the
// call once and the isolation mode picks the interpreter.
class Interpreter {
 public:
  virtual ~Interpreter() = default;
  virtual python::CallOutcome CallProcessWrites(const python::PluginCode& code,
                                                const python::CallContext& ctx,
                                                const std::vector<python::TableRows>& tables) = 0;
  virtual python::CallOutcome CallScheduled(const python::PluginCode& code,
                                            const python::CallContext& ctx,
                                            int64_t scheduled_unix_seconds) = 0;
  virtual python::CallOutcome CallRequest(
      const python::PluginCode& code, const python::CallContext& ctx,
      const std::vector<std::pair<std::string, std::string>>& query_params,
      const std::map<std::string, std::string>& headers, const std::string& body) = 0;
};

// The server's own interpreter (--plugin-isolation thread): the python component's calls, on
// the calling thread.
class InProcess final : public Interpreter {
 public:
  python::CallOutcome CallProcessWrites(const python::PluginCode& code,
                                        const python::CallContext& ctx,
                                        const std::vector<python::TableRows>& tables) override {
    return python::CallProcessWrites(code, ctx, tables);
  }
  python::CallOutcome CallScheduled(const python::PluginCode& code, const python::CallContext& ctx,
                                    int64_t scheduled_unix_seconds) override {
    return python::CallScheduled(code, ctx, scheduled_unix_seconds);
  }
  python::CallOutcome CallRequest(
      const python::PluginCode& code, const python::CallContext& ctx,
      const std::vector<std::pair<std::string, std::string>>& query_params,
      const std::map<std::string, std::string>& headers, const std::string& body) override {
    return python::CallRequest(code, ctx, query_params, headers, body);
  }
};

// One trigger's worker process. Calls may run at once (a --run-asynchronous trigger's runs
// each get a thread in the worker, as they would in the server); each waits for its own
// messages, read from the socket by one of the waiting calls at a time and sorted by call.
// Interrupt, Kill and CheckLimits may come from any thread.
class PluginWorker final : public Interpreter {
 public:
  // Starts the process and waits until its interpreter is up.
  static Result<std::shared_ptr<PluginWorker>> Spawn(const WorkerOptions& options);
  ~PluginWorker();  // kills the process if it still runs, and reaps it

  python::CallOutcome CallProcessWrites(const python::PluginCode& code,
                                        const python::CallContext& ctx,
                                        const std::vector<python::TableRows>& tables) override;
  python::CallOutcome CallScheduled(const python::PluginCode& code, const python::CallContext& ctx,
                                    int64_t scheduled_unix_seconds) override;
  python::CallOutcome CallRequest(
      const python::PluginCode& code, const python::CallContext& ctx,
      const std::vector<std::pair<std::string, std::string>>& query_params,
      const std::map<std::string, std::string>& headers, const std::string& body) override;

  // KeyboardInterrupt in every call in progress now; the process is killed if they have not all
  // ended `grace_ns` later (CheckLimits does it).
  void Interrupt(int64_t now_ns, int64_t grace_ns);
  // Ends the process for sure (SIGKILL); the calls in progress end as crashed with `reason`.
  void Kill(const std::string& reason);
  // Kills the process past its interrupt grace or over the memory limit.
  void CheckLimits(int64_t now_ns);
  bool alive() const { return !dead_.load(); }

 private:
  PluginWorker(pid_t pid, int fd, const WorkerOptions& options)
      : pid_(pid), fd_(fd), options_(options) {}
  uint32_t NewCall();
  python::CallOutcome Call(uint32_t id, const std::string& request, const python::CallContext& ctx);
  // Serves one request of the plugin; false when the message was the call's outcome.
  bool Serve(uint32_t id, const std::string& frame, const python::CallContext& ctx,
             python::CallOutcome* out);
  Status Send(const std::string& body);
  void KillLocked(const std::string& reason);
  // Waits for the exited process (or kills it) and records how it ended; mu_ held.
  void ReapLocked();

  pid_t pid_;
  int fd_;
  WorkerOptions options_;
  std::mutex send_mu_;  // taken after mu_ when both are
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint32_t, std::deque<std::string>> mailboxes_;  // messages of the calls in progress
  uint32_t next_call_ = 1;
  bool reading_ = false;  // a call is reading the socket
  bool reaped_ = false;
  std::atomic<bool> dead_{false};
  std::string kill_reason_;             // why the server killed it
  std::string ended_;                   // how it ended, once it did
  std::atomic<int64_t> kill_at_ns_{0};  // 0: not interrupted
};

// A trigger's worker: started on first use and kept for the next runs. One that crashed is
// replaced after a back-off that doubles with each crash in a row (100 ms up to 10 s), so a
// plugin that crashes at once does not become a fork loop.
class WorkerPool {
 public:
  explicit WorkerPool(WorkerOptions options) : options_(std::move(options)) {}
  ~WorkerPool();

  // Runs `call` on the trigger's worker, started if need be. A worker that cannot start gives
  // an outcome naming why.
  python::CallOutcome Run(const std::function<python::CallOutcome(Interpreter&)>& call);
  // Starts the worker ahead of the first run, so that run does not wait for it.
  void Warm() {
    Run([](Interpreter&) { return python::CallOutcome(); });
  }
  // Interrupts every run in progress (timeouts of synchronous triggers, Stop).
  void InterruptRunning(int64_t now_ns, int64_t grace_ns);
  // Kills the worker; later runs answer that the trigger was stopped.
  void KillAll(const std::string& reason);
  void CheckLimits(int64_t now_ns);
  // Packages were installed: later workers get `site_packages` on their path, and the current
  // one is replaced at the next run.
  void Retire(std::vector<std::string> site_packages);

 private:
  WorkerOptions options_;
  std::mutex spawn_mu_;  // one start at a time
  std::mutex mu_;
  std::shared_ptr<PluginWorker> current_;
  int crashes_in_a_row_ = 0;
  int64_t next_spawn_ns_ = 0;
  bool closed_ = false;
};

// The worker process's main: `influxdb3 __plugin-worker --fd N --parent PID [--site-packages
// DIR]...`. Returns the exit code.
int RunWorkerProcess(int argc, char** argv);
inline constexpr const char* kWorkerCommand = "__plugin-worker";

}  // namespace riffle::worker
