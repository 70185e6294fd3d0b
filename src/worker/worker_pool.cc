#include <algorithm>
#include <chrono>
#include <thread>

#include "common/clock.h"
#include "worker/worker.h"

namespace riffle::worker {

namespace {
constexpr int64_t kFirstBackoffNs = 100'000'000;
constexpr int64_t kMaxBackoffNs = 10'000'000'000;
}  // namespace

void SharedCache::Put(const std::string& key, std::string value, double ttl_seconds) {
  Entry e{std::move(value),
          ttl_seconds < 0 ? 0 : NowNanos() + static_cast<int64_t>(ttl_seconds * 1e9)};
  std::lock_guard lock(mu_);
  entries_[key] = std::move(e);
}

std::optional<std::string> SharedCache::Get(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.expires_ns != 0 && it->second.expires_ns <= NowNanos()) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.value;
}

bool SharedCache::Delete(const std::string& key) {
  std::lock_guard lock(mu_);
  return entries_.erase(key) > 0;
}

WorkerPool::~WorkerPool() { KillAll("the trigger was stopped"); }

python::CallOutcome WorkerPool::Run(const std::function<python::CallOutcome(Interpreter&)>& call) {
  auto stopped = [] {
    python::CallOutcome out;
    out.status = Status::Unavailable("the trigger was stopped");
    return out;
  };
  std::shared_ptr<PluginWorker> worker;
  {
    std::lock_guard spawning(spawn_mu_);
    int64_t wait_until = 0;
    WorkerOptions options;
    {
      std::lock_guard lock(mu_);
      if (closed_) return stopped();
      if (current_ && current_->alive()) worker = current_;
      wait_until = next_spawn_ns_;
      options = options_;
    }
    if (!worker) {
      for (int64_t left; (left = wait_until - NowNanos()) > 0;) {  // the back-off after crashes
        std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(left, 50'000'000)));
        std::lock_guard lock(mu_);
        if (closed_) return stopped();
      }
      auto spawned = PluginWorker::Spawn(options);
      std::lock_guard lock(mu_);
      if (!spawned.ok()) {
        ++crashes_in_a_row_;
        next_spawn_ns_ = NowNanos() + std::min(kMaxBackoffNs, kFirstBackoffNs << std::min(
                                                                  crashes_in_a_row_ - 1, 10));
        python::CallOutcome out;
        out.status = spawned.status();
        out.crash = spawned.status().message();
        return out;
      }
      worker = std::move(spawned).value();
      if (closed_) {
        worker->Kill("the trigger was stopped");
        return stopped();
      }
      current_ = worker;
    }
  }
  python::CallOutcome out = call(*worker);
  std::lock_guard lock(mu_);
  if (worker->alive()) {
    crashes_in_a_row_ = 0;
  } else if (current_ == worker) {
    current_.reset();
    ++crashes_in_a_row_;
    next_spawn_ns_ = NowNanos() + std::min(kMaxBackoffNs,
                                           kFirstBackoffNs << std::min(crashes_in_a_row_ - 1, 10));
  }
  return out;
}

void WorkerPool::InterruptRunning(int64_t now_ns, int64_t grace_ns) {
  std::shared_ptr<PluginWorker> w;
  {
    std::lock_guard lock(mu_);
    w = current_;
  }
  if (w) w->Interrupt(now_ns, grace_ns);
}

void WorkerPool::KillAll(const std::string& reason) {
  std::shared_ptr<PluginWorker> w;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    w.swap(current_);
  }
  if (w) w->Kill(reason);
}

void WorkerPool::CheckLimits(int64_t now_ns) {
  std::shared_ptr<PluginWorker> w;
  {
    std::lock_guard lock(mu_);
    w = current_;
  }
  if (w) w->CheckLimits(now_ns);
}

void WorkerPool::Retire(std::vector<std::string> site_packages) {
  std::shared_ptr<PluginWorker> w;
  std::lock_guard lock(mu_);
  options_.site_packages = std::move(site_packages);
  w.swap(current_);  // ended once its runs in progress have (the last reference kills it)
}

}  // namespace riffle::worker
