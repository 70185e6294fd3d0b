// The server's side of one worker process: starting it, a call and the requests the plugin
// makes meanwhile, and how the process ended when it went away.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/clock.h"
#include "worker/wire.h"
#include "worker/worker.h"

extern char** environ;

namespace riffle::worker {

namespace {

constexpr int kStartTimeoutMs = 60000;

std::string HowItEnded(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return "was killed by signal " + std::to_string(sig) +
           (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  }
  return "ended (wait status " + std::to_string(status) + ")";
}

int64_t ResidentBytes(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

std::string Bytes(int64_t n) {
  if (n >= (1 << 20)) return std::to_string(n >> 20) + " MiB";
  return std::to_string(n) + " bytes";
}

}  // namespace

Result<std::shared_ptr<PluginWorker>> PluginWorker::Spawn(const WorkerOptions& options) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Status::Unavailable(std::string("cannot start a plugin worker: socketpair: ") +
                               strerror(errno));
  std::vector<std::string> args = {"influxdb3", kWorkerCommand, "--fd",
                                   "3",         "--parent",     std::to_string(::getpid())};
  for (const auto& dir : options.site_packages) args.insert(args.end(), {"--site-packages", dir});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], 3);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions,
                                           4);  // the server's sockets and files stay its own
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  // /proc/self/exe runs this very binary even if its file was replaced since the server started.
  int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    return Status::Unavailable(std::string("cannot start a plugin worker process: ") +
                               strerror(rc));
  }
  std::shared_ptr<PluginWorker> worker(new PluginWorker(pid, sv[0], options));
  pollfd p{sv[0], POLLIN, 0};
  int ready = 0;
  do ready = ::poll(&p, 1, kStartTimeoutMs);
  while (ready < 0 && errno == EINTR);
  auto ended = [&](const std::string& reason) {
    std::lock_guard lock(worker->mu_);
    if (worker->kill_reason_.empty()) worker->kill_reason_ = reason;
    worker->ReapLocked();
    return Status::Unavailable("the plugin worker process did not start: it " + worker->ended_);
  };
  if (ready == 0)
    return ended("did not start within " + std::to_string(kStartTimeoutMs / 1000) + " s");
  auto frame = ReceiveFrame(sv[0]);
  if (!frame.ok()) return ended("");
  try {
    Unpacker u(*frame);
    if (u.type() == Msg::kReady) return worker;
    if (u.type() == Msg::kStatus) {
      u.U8();
      return Status::Unavailable("the plugin worker process did not start: " +
                                 std::string(u.Str()));
    }
  } catch (const std::exception&) {
  }
  return ended("sent a bad first message");
}

PluginWorker::~PluginWorker() {
  std::lock_guard lock(mu_);
  KillLocked("");
  ReapLocked();
  ::close(fd_);
}

void PluginWorker::ReapLocked() {
  if (reaped_) return;
  int status = 0;
  bool exited = false;
  // The process is gone or going (its end of the channel closed first): give it a moment to
  // become reapable, then make sure.
  for (int i = 0; i < 100 && !exited; ++i) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD))
      exited = true;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!exited) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    if (kill_reason_.empty()) kill_reason_ = "stopped answering and was killed";
  }
  reaped_ = true;
  dead_ = true;
  ended_ = !kill_reason_.empty() ? kill_reason_ : HowItEnded(status);
  cv_.notify_all();
}

Status PluginWorker::Send(const std::string& body) {
  std::lock_guard lock(send_mu_);
  return SendFrame(fd_, body);
}

void PluginWorker::Interrupt(int64_t now_ns, int64_t grace_ns) {
  std::lock_guard lock(mu_);
  if (dead_ || mailboxes_.empty()) return;
  if (kill_at_ns_.load() == 0) kill_at_ns_ = now_ns + grace_ns;
  for (const auto& [id, box] : mailboxes_) (void)Send(Packer(Msg::kInterrupt, id).body());
}

void PluginWorker::Kill(const std::string& reason) {
  std::lock_guard lock(mu_);
  KillLocked(reason);
}

void PluginWorker::KillLocked(const std::string& reason) {
  if (kill_reason_.empty()) kill_reason_ = reason;
  if (!reaped_) ::kill(pid_, SIGKILL);
}

void PluginWorker::CheckLimits(int64_t now_ns) {
  if (dead_) return;
  int64_t kill_at = kill_at_ns_.load();
  if (kill_at != 0 && now_ns >= kill_at) {
    Kill("did not stop after the interrupt and was killed");
    return;
  }
  if (options_.memory_limit_bytes > 0) {
    int64_t rss = ResidentBytes(pid_);
    if (rss > options_.memory_limit_bytes)
      Kill("was killed at " + Bytes(rss) + " resident, over --plugin-memory-limit (" +
           Bytes(options_.memory_limit_bytes) + ")");
  }
}

uint32_t PluginWorker::NewCall() {
  std::lock_guard lock(mu_);
  uint32_t id = next_call_++;
  if (next_call_ == 0) next_call_ = 1;
  mailboxes_[id];
  return id;
}

python::CallOutcome PluginWorker::Call(uint32_t id, const std::string& request,
                                       const python::CallContext& ctx) {
  (void)Send(request);  // a worker that is gone shows as dead below
  python::CallOutcome out;
  std::unique_lock lock(mu_);
  for (;;) {
    auto& box = mailboxes_[id];
    if (!box.empty()) {
      std::string frame = std::move(box.front());
      box.pop_front();
      lock.unlock();
      bool more = true;
      try {
        more = Serve(id, frame, ctx, &out);
      } catch (const std::exception& e) {
        Kill(std::string("sent a message the server could not read (") + e.what() +
             ") and was killed");
      }
      lock.lock();
      if (!more) break;
      continue;
    }
    if (dead_) {
      mailboxes_.erase(id);
      python::CallOutcome crashed;
      crashed.crash = ended_;
      crashed.status = Status::Unavailable("the plugin's worker process " + ended_);
      return crashed;
    }
    if (reading_) {  // another call reads for everyone; it hands this one its messages
      cv_.wait(lock);
      continue;
    }
    // No thread of its own reads the socket: a waiting call does (one at a time), so that a
    // call's reply reaches it without a hand-off between threads.
    reading_ = true;
    lock.unlock();
    auto frame = ReceiveFrame(fd_);
    lock.lock();
    reading_ = false;
    cv_.notify_all();  // someone else may read now
    if (!frame.ok()) {
      if (frame.status().code() != Code::kUnavailable)
        KillLocked("sent a message the server could not read (" + frame.status().message() +
                   ") and was killed");
      ReapLocked();
      continue;
    }
    uint32_t to = 0;
    try {
      to = Unpacker(*frame).call();
    } catch (const std::exception& e) {
      KillLocked(std::string("sent a message the server could not read (") + e.what() +
                 ") and was killed");
      continue;
    }
    auto it = mailboxes_.find(to);
    if (it != mailboxes_.end()) it->second.push_back(std::move(frame).value());
    // else a late line of a run that ended: no one to tell
  }
  mailboxes_.erase(id);
  if (mailboxes_.empty()) kill_at_ns_ = 0;
  return out;
}

bool PluginWorker::Serve(uint32_t id, const std::string& frame, const python::CallContext& ctx,
                         python::CallOutcome* out) {
  Unpacker u(frame);
  const python::HostServices* host = ctx.host;
  auto reply_status = [&](const Status& st) {
    Packer p(Msg::kStatus, id);
    p.U8(st.ok() ? 1 : 0).Str(st.message());
    return Send(p.body());
  };
  switch (u.type()) {
    case Msg::kOutcome: {
      python::CallOutcome got = UnpackOutcome(u);
      *out = std::move(got);
      return false;
    }
    case Msg::kLog: {
      std::string level(u.Str());
      std::string text(u.Str());
      if (host && host->log) host->log(level, text);
      return true;
    }
    case Msg::kWriteSync: {
      std::string db(u.Str());
      std::string lp(u.Str());
      bool no_sync = u.U8() != 0;
      Status st = host && host->write_sync ? host->write_sync(db, lp, no_sync)
                                           : Status::Internal("no write service");
      (void)reply_status(st);
      return true;
    }
    case Msg::kQuery: {
      std::string db(u.Str());
      std::string sql(u.Str());
      query::Params params = UnpackParams(u);
      Result<std::unique_ptr<query::ResultStream>> stream = Status::Internal("no query service");
      if (host && host->query) stream = host->query(db, sql, params);
      if (!stream.ok()) {
        (void)reply_status(stream.status());
        return true;
      }
      Packer columns(Msg::kQueryColumns, id);
      columns.U32(static_cast<uint32_t>((*stream)->column_names().size()));
      for (const auto& name : (*stream)->column_names()) columns.Str(name);
      if (!Send(columns.body()).ok()) return true;  // the next read sees the end
      query::Batch batch;
      for (;;) {
        Result<bool> more = (*stream)->Next(&batch);
        if (!more.ok()) {
          (void)reply_status(more.status());
          return true;
        }
        if (!*more) break;
        Packer p(Msg::kQueryBatch, id);
        PackBatch(p, batch);
        if (!Send(p.body()).ok()) return true;
      }
      (void)Send(Packer(Msg::kQueryEnd, id).body());
      return true;
    }
    case Msg::kCachePut: {
      std::string key(u.Str());
      std::string value(u.Str());
      double ttl = u.F64();
      if (options_.cache) options_.cache->Put(key, std::move(value), ttl);
      return true;
    }
    case Msg::kCacheGet: {
      std::string key(u.Str());
      auto value = options_.cache ? options_.cache->Get(key) : std::nullopt;
      Packer p(Msg::kCacheValue, id);
      p.U8(value ? 1 : 0).Str(value ? *value : std::string());
      (void)Send(p.body());
      return true;
    }
    case Msg::kCacheDelete: {
      std::string key(u.Str());
      bool was = options_.cache && options_.cache->Delete(key);
      (void)reply_status(was ? Status::Ok() : Status::NotFound(key));
      return true;
    }
    default:
      throw std::runtime_error("unexpected message type " +
                               std::to_string(static_cast<int>(u.type())));
  }
}

python::CallOutcome PluginWorker::CallProcessWrites(const python::PluginCode& code,
                                                    const python::CallContext& ctx,
                                                    const std::vector<python::TableRows>& tables) {
  uint32_t id = NewCall();
  Packer p(Msg::kCallWrites, id);
  PackCode(p, code);
  PackContext(p, ctx);
  PackTables(p, tables);
  return Call(id, p.body(), ctx);
}

python::CallOutcome PluginWorker::CallScheduled(const python::PluginCode& code,
                                                const python::CallContext& ctx,
                                                int64_t scheduled_unix_seconds) {
  uint32_t id = NewCall();
  Packer p(Msg::kCallScheduled, id);
  PackCode(p, code);
  PackContext(p, ctx);
  p.I64(scheduled_unix_seconds);
  return Call(id, p.body(), ctx);
}

python::CallOutcome PluginWorker::CallRequest(
    const python::PluginCode& code, const python::CallContext& ctx,
    const std::vector<std::pair<std::string, std::string>>& query_params,
    const std::map<std::string, std::string>& headers, const std::string& body) {
  uint32_t id = NewCall();
  Packer p(Msg::kCallRequest, id);
  PackCode(p, code);
  PackContext(p, ctx);
  p.U32(static_cast<uint32_t>(query_params.size()));
  for (const auto& [k, v] : query_params) p.Str(k).Str(v);
  p.U32(static_cast<uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) p.Str(k).Str(v);
  p.Str(body);
  return Call(id, p.body(), ctx);
}

}  // namespace riffle::worker
