#include "app/node_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace riffle::app {

Status LockNode(const std::string& dir, const std::string& node_id) {
  const std::string path = dir + "/" + node_id + ".lock";
  // Close-on-exec: plugin workers and other children must not keep the lock past this process.
  // Read-only: a file held open for writing would keep its file system from being remounted
  // read-only (which a full or failing disk may need, and which tests/e2e/test_disk_full.py does).
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 && (errno == EROFS || errno == EACCES)) {
    // A node that cannot create a file there writes nothing there either (a query node on a
    // read-only copy): it runs, unguarded.
    log::Warn("cannot create the node lock " + path + " (" + std::strerror(errno) +
              "): nothing keeps a second server of node " + node_id + " off this directory");
    return Status::Ok();
  }
  if (fd < 0)
    return Status::Internal("cannot open the node lock " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char pid[32] = {0};
    ssize_t n = ::pread(fd, pid, sizeof(pid) - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK)
      return Status::Internal("cannot lock " + path + ": " + std::strerror(err));
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return Status::Conflict(
        "another influxdb3 serve" + (holder.empty() ? std::string() : " (pid " + holder + ")") +
        " already runs with --node-id " + node_id + " on this data directory (it holds " + path +
        "); stop it first, or give this server another --node-id or --data-dir");
  }
  // The pid is only for the message above: the lock holds without it.
  std::string pid = std::to_string(::getpid()) + "\n";
  if (int out = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC); out >= 0) {
    [[maybe_unused]] ssize_t written = ::write(out, pid.data(), pid.size());
    ::close(out);
  }
  // The locked descriptor stays open until the process exits.
  return Status::Ok();
}

}  // namespace riffle::app
