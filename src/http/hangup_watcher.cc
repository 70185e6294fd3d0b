#include "http/hangup_watcher.h"

#include <poll.h>

#include <vector>

namespace riffle::http {

void ClientWatch::OnGone(std::function<void()> f) {
  std::unique_lock lock(mu_);
  if (gone_) {
    lock.unlock();
    f();
    return;
  }
  on_gone_ = std::move(f);
}

void ClientWatch::Gone() {
  std::function<void()> f;
  {
    std::lock_guard lock(mu_);
    if (gone_) return;
    gone_ = true;
    f = std::move(on_gone_);
  }
  if (f) f();
}

HangupWatcher::HangupWatcher() : thread_([this] { Run(); }) {}

HangupWatcher::~HangupWatcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t HangupWatcher::Watch(int fd, std::weak_ptr<ClientWatch> client) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  watched_[id] = {fd, std::move(client)};
  cv_.notify_all();
  return id;
}

void HangupWatcher::Unwatch(uint64_t id) {
  std::lock_guard lock(mu_);
  watched_.erase(id);
}

void HangupWatcher::Run() {
  std::vector<pollfd> fds;
  std::vector<uint64_t> ids;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !watched_.empty(); });
      if (stop_) return;
      fds.clear();
      ids.clear();
      for (const auto& [id, e] : watched_) {
        // Only hang-ups: a pipelined next request (readable data) must not wake the poll.
        fds.push_back({e.fd, POLLRDHUP, 0});
        ids.push_back(id);
      }
    }
    // A short timeout picks up new connections; a hang-up wakes the poll at once.
    int n = ::poll(fds.data(), fds.size(), 100);
    if (n <= 0) continue;
    std::vector<std::shared_ptr<ClientWatch>> gone;
    {
      std::lock_guard lock(mu_);
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR))) continue;
        // Still the same registration: the fd was not closed and reused meanwhile.
        auto it = watched_.find(ids[i]);
        if (it == watched_.end()) continue;
        if (auto client = it->second.client.lock()) gone.push_back(std::move(client));
        watched_.erase(it);
      }
    }
    for (auto& client : gone) client->Gone();
  }
}

}  // namespace riffle::http
