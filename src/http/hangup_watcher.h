// Internal to http/: notices clients that hang up while their request is still being handled
// (a long query runs inside the handler, before any response byte), so the work can stop.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "http/http.h"

namespace riffle::http {

class HangupWatcher {
 public:
  HangupWatcher();
  ~HangupWatcher();
  HangupWatcher(const HangupWatcher&) = delete;
  HangupWatcher& operator=(const HangupWatcher&) = delete;

  // Watches connection `fd` until Unwatch(id): once the peer closes it, `client` is told.
  uint64_t Watch(int fd, std::weak_ptr<ClientWatch> client);
  void Unwatch(uint64_t id);

 private:
  void Run();
  struct Entry {
    int fd;
    std::weak_ptr<ClientWatch> client;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> watched_;
  uint64_t next_id_ = 1;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace riffle::http
