// The worker process: an interpreter that runs the calls the server sends, and asks the server
// for what the plugin wants of the database.
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "worker/wire.h"
#include "worker/worker.h"

namespace riffle::worker {

namespace {

// The worker's end of the channel: a reply goes to the mailbox of the run that asked (a run's
// plugin may ask from its own threads too, so an exchange holds the run's lock).
class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}
  int fd() const { return fd_; }
  Status Send(const std::string& body) {
    std::lock_guard lock(send_mu_);
    return SendFrame(fd_, body);
  }
  void Open(uint32_t call) {
    std::lock_guard lock(mu_);
    boxes_[call];
  }
  void Close(uint32_t call) {
    std::lock_guard lock(mu_);
    boxes_.erase(call);
  }
  void Deliver(uint32_t call, std::string frame) {
    std::lock_guard lock(mu_);
    auto it = boxes_.find(call);
    if (it == boxes_.end()) return;
    it->second.push_back(std::move(frame));
    cv_.notify_all();
  }
  // The next reply to `call`.
  std::string Await(uint32_t call) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !boxes_[call].empty(); });
    std::string frame = std::move(boxes_[call].front());
    boxes_[call].pop_front();
    return frame;
  }

 private:
  int fd_;
  std::mutex send_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint32_t, std::deque<std::string>> boxes_;
};

// A query result the server sent whole, handed out batch by batch.
class ReceivedRows : public query::ResultStream {
 public:
  const std::vector<std::string>& column_names() const override { return names_; }
  Result<bool> Next(query::Batch* batch) override {
    if (batches_.empty()) {
      if (!end_.ok()) return end_;
      return false;
    }
    *batch = std::move(batches_.front());
    batches_.pop_front();
    return true;
  }

  std::vector<std::string> names_;
  std::deque<query::Batch> batches_;
  Status end_;
};

Status StatusFrom(Unpacker& u) {
  bool ok = u.U8() != 0;
  std::string message(u.Str());
  return ok ? Status::Ok() : Status::InvalidArgument(message);
}

// The channel lost: the server is gone or broke the protocol; nothing is left to do.
[[noreturn]] void Lost(const std::string& why) {
  std::cerr << "plugin worker " << ::getpid() << ": " << why << "\n";
  ::_exit(1);
}

// What the plugin of call `id` asks of the database, sent to the server. One exchange at a
// time per call: the plugin's own threads may ask at once.
std::shared_ptr<python::HostServices> RemoteHost(Channel* ch, uint32_t id) {
  auto host = std::make_shared<python::HostServices>();
  auto mu = std::make_shared<std::mutex>();
  auto exchange = [ch, id, mu](const std::string& body) {
    if (!ch->Send(body).ok()) Lost("the server closed the channel");
    return ch->Await(id);
  };
  host->log = [ch, id](const std::string& level, const std::string& text) {
    Packer p(Msg::kLog, id);
    p.Str(level).Str(text);
    (void)ch->Send(p.body());
  };
  host->write_sync = [mu, exchange, id](const std::string& db, const std::string& lp,
                                        bool no_sync) -> Status {
    Packer p(Msg::kWriteSync, id);
    p.Str(db).Str(lp).U8(no_sync ? 1 : 0);
    std::lock_guard lock(*mu);
    std::string reply = exchange(p.body());
    Unpacker u(reply);
    return StatusFrom(u);
  };
  host->query = [mu, ch, exchange, id](
                    const std::string& db, const std::string& sql,
                    const query::Params& params) -> Result<std::unique_ptr<query::ResultStream>> {
    Packer p(Msg::kQuery, id);
    p.Str(db).Str(sql);
    PackParams(p, params);
    auto rows = std::make_unique<ReceivedRows>();
    std::lock_guard lock(*mu);
    std::string reply = exchange(p.body());
    for (;;) {
      Unpacker u(reply);
      switch (u.type()) {
        case Msg::kQueryColumns:
          for (uint32_t n = u.U32(); n > 0; --n) rows->names_.emplace_back(u.Str());
          break;
        case Msg::kQueryBatch:
          rows->batches_.push_back(UnpackBatch(u));
          break;
        case Msg::kQueryEnd:
          return std::unique_ptr<query::ResultStream>(std::move(rows));
        case Msg::kStatus: {
          Status st = StatusFrom(u);
          if (rows->names_.empty()) return st;  // the query did not start
          rows->end_ = st;                      // it failed after some batches
          return std::unique_ptr<query::ResultStream>(std::move(rows));
        }
        default:
          Lost("unexpected reply to a query");
      }
      reply = ch->Await(id);
    }
  };
  host->cache_put = [ch, id](const std::string& key, std::string value, double ttl) {
    Packer p(Msg::kCachePut, id);
    p.Str(key).Str(value).F64(ttl);
    (void)ch->Send(p.body());
  };
  host->cache_get = [mu, exchange, id](const std::string& key) -> std::optional<std::string> {
    Packer p(Msg::kCacheGet, id);
    p.Str(key);
    std::lock_guard lock(*mu);
    std::string reply = exchange(p.body());
    Unpacker u(reply);
    bool found = u.U8() != 0;
    std::string_view value = u.Str();
    if (!found) return std::nullopt;
    return std::string(value);
  };
  host->cache_delete = [mu, exchange, id](const std::string& key) {
    Packer p(Msg::kCacheDelete, id);
    p.Str(key);
    std::lock_guard lock(*mu);
    std::string reply = exchange(p.body());
    Unpacker u(reply);
    return u.U8() != 0;
  };
  return host;
}

python::CallOutcome RunCall(const std::shared_ptr<const std::string>& body,
                            const std::shared_ptr<python::HostServices>& host) {
  Unpacker u(*body);
  python::PluginCode code = UnpackCode(u);
  python::CallContext ctx = UnpackContext(u);
  ctx.host = host.get();
  ctx.host_owner = host;
  switch (u.type()) {
    case Msg::kCallWrites: {
      UnpackedTables tables = UnpackTables(u, body);
      return python::CallProcessWrites(code, ctx, tables.tables);
    }
    case Msg::kCallScheduled:
      return python::CallScheduled(code, ctx, u.I64());
    case Msg::kCallRequest: {
      std::vector<std::pair<std::string, std::string>> params;
      for (uint32_t n = u.U32(); n > 0; --n) {
        std::string k(u.Str());
        params.emplace_back(std::move(k), std::string(u.Str()));
      }
      std::map<std::string, std::string> headers;
      for (uint32_t n = u.U32(); n > 0; --n) {
        std::string k(u.Str());
        headers[k] = u.Str();
      }
      std::string request_body(u.Str());
      return python::CallRequest(code, ctx, params, headers, request_body);
    }
    default:
      throw std::runtime_error("unexpected call type " +
                               std::to_string(static_cast<int>(u.type())));
  }
}

// The worker's threads, leader and followers: one reads the socket; when it reads a call it
// hands the reading to another (a new thread if all are busy) and runs the call itself, so a call
// starts without a hand-off between threads. Replies and interrupts it passes on.
class Dispatcher {
 public:
  explicit Dispatcher(Channel* ch) : ch_(ch) {}
  void Start() { Spawn(); }

 private:
  void Spawn() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    std::optional<python::ThreadScope> python;  // made at this thread's first call
    for (;;) {
      {
        std::unique_lock lock(mu_);
        ++waiting_;
        cv_.wait(lock, [&] { return !has_leader_; });
        --waiting_;
        has_leader_ = true;
      }
      auto [id, call] = ReadUntilCall();
      {
        std::lock_guard lock(mu_);
        has_leader_ = false;
        if (waiting_ == 0)
          Spawn();
        else
          cv_.notify_one();
      }
      if (!python) python.emplace();
      Run(id, call);
    }
  }

  std::pair<uint32_t, std::shared_ptr<const std::string>> ReadUntilCall() {
    for (;;) {
      Result<std::string> frame = ReceiveFrame(ch_->fd());
      if (!frame.ok() && frame.status().code() == Code::kUnavailable)
        ::_exit(0);  // the server closed the channel: the trigger is gone
      if (!frame.ok()) Lost(frame.status().message());
      auto body = std::make_shared<const std::string>(std::move(frame).value());
      uint32_t id = 0;
      Msg type;
      try {
        Unpacker u(*body);
        id = u.call();
        type = u.type();
      } catch (const std::exception& e) {
        Lost(std::string("bad message from the server: ") + e.what());
      }
      if (type == Msg::kCallWrites || type == Msg::kCallScheduled || type == Msg::kCallRequest) {
        ch_->Open(id);
        return {id, body};
      }
      if (type != Msg::kInterrupt) {
        ch_->Deliver(id, *body);
        continue;
      }
      unsigned long thread = 0;
      {
        std::lock_guard lock(mu_);
        auto it = python_threads_.find(id);
        if (it != python_threads_.end()) thread = it->second;
      }
      if (thread) python::InterruptThread(thread);
    }
  }

  void Run(uint32_t id, const std::shared_ptr<const std::string>& body) {
    {
      std::lock_guard lock(mu_);
      python_threads_[id] = python::CurrentThreadId();
    }
    python::CallOutcome out;
    try {
      out = RunCall(body, RemoteHost(ch_, id));
    } catch (const std::exception& e) {
      Lost(std::string("bad call from the server: ") + e.what());
    }
    {
      std::lock_guard lock(mu_);
      python_threads_.erase(id);
    }
    ch_->Close(id);
    Packer p(Msg::kOutcome, id);
    PackOutcome(p, out);
    if (!ch_->Send(p.body()).ok()) ::_exit(0);
  }

  Channel* ch_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool has_leader_ = false;
  int waiting_ = 0;
  std::map<uint32_t, unsigned long> python_threads_;  // call → the Python thread running it
};

}  // namespace

int RunWorkerProcess(int argc, char** argv) {
  int fd = -1;
  pid_t parent = 0;
  std::vector<std::string> site_packages;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--fd")
      fd = std::atoi(argv[i + 1]);
    else if (flag == "--parent")
      parent = static_cast<pid_t>(std::atol(argv[i + 1]));
    else if (flag == "--site-packages")
      site_packages.emplace_back(argv[i + 1]);
  }
  if (fd < 0) {
    std::cerr << "influxdb3 " << kWorkerCommand
              << " is started by the server for its plugins, not by hand\n";
    return 2;
  }
  // Not PR_SET_PDEATHSIG for orphans: it fires when the server *thread* that started the worker
  // ends, and the runs of asynchronous triggers each have their own. See the main loop below.
  (void)parent;
  {
    // A runaway plugin, not the server, is what the kernel's OOM killer should pick.
    std::ofstream oom("/proc/self/oom_score_adj");
    oom << "1000";
  }
  Channel ch(fd);
  // Each call's rows are allocated afresh: keep what the last one freed rather than give it back
  // to the kernel and fault it in again.
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // Ctrl-C at a terminal reaches the whole process group: the server decides when workers end.
  ::signal(SIGINT, SIG_IGN);
  Status started = python::Initialize(site_packages);
  if (!started.ok()) {
    Packer p(Msg::kStatus, 0);
    p.U8(0).Str(started.message());
    (void)ch.Send(p.body());
    return 1;
  }
  if (!ch.Send(Packer(Msg::kReady, 0).body()).ok()) return 1;
  Dispatcher dispatcher(&ch);
  dispatcher.Start();
  // The main thread only watches for the server's end of the socket to close, which no plugin
  // can keep it from seeing: the worker never outlives its server, even one killed with -9.
  pollfd watch{fd, POLLRDHUP, 0};
  for (;;) {
    int n = ::poll(&watch, 1, -1);
    if (n > 0 && (watch.revents & POLLNVAL)) Lost("the plugin closed the worker's channel");
    if (n > 0 && (watch.revents & (POLLRDHUP | POLLHUP | POLLERR))) ::_exit(0);
    if (n < 0 && errno != EINTR) ::_exit(1);
  }
}

}  // namespace riffle::worker
