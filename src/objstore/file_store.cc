#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "common/fault.h"
#include "objstore/object_store.h"

namespace riffle::objstore {
namespace {

namespace fs = std::filesystem;

std::string ErrnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

Status FsyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Status::IOError(ErrnoText("cannot open directory", dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IOError(ErrnoText("cannot fsync directory", dir));
  return Status::Ok();
}

Status WriteFileDurably(const fs::path& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(ErrnoText("cannot create", path));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status st = Status::IOError(ErrnoText("cannot write", path));
      ::close(fd);
      return st;
    }
    done += static_cast<size_t>(n);
  }
  if (::fdatasync(fd) != 0) {
    Status st = Status::IOError(ErrnoText("cannot fsync", path));
    ::close(fd);
    return st;
  }
  ::close(fd);
  return Status::Ok();
}

class FileStore final : public ObjectStore {
 public:
  explicit FileStore(std::string root) : root_(std::move(root)) {}

  Status Put(const std::string& path, std::string_view data) override {
    return PutImpl(path, data, /*if_absent=*/false);
  }
  Status PutIfAbsent(const std::string& path, std::string_view data) override {
    return PutImpl(path, data, /*if_absent=*/true);
  }

  Result<std::string> Get(const std::string& path) override {
    std::string out;
    RIFFLE_RETURN_IF_ERROR(GetInto(path, &out));
    return out;
  }

  Status GetInto(const std::string& path, std::string* out) override {
    fs::path p = root_ / path;
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound("object not found: " + path);
      return Status::IOError(ErrnoText("cannot open", p));
    }
    // Read straight into a string of the file's size: growing it by appending copied an 8 MB
    // WAL file about twice over and faulted in three times its pages. A string that held a
    // bigger object before keeps its memory (resize only zeroes what it adds).
    struct stat st_buf;
    size_t expected =
        ::fstat(fd, &st_buf) == 0 && st_buf.st_size > 0 ? static_cast<size_t>(st_buf.st_size) : 0;
    if (out->size() < expected + 1)
      out->resize(expected + 1);  // one byte more: a file that grew is read on
    size_t used = 0;
    for (;;) {
      if (used == out->size()) out->resize(out->size() * 2);
      ssize_t n = ::read(fd, out->data() + used, out->size() - used);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Status st = Status::IOError(ErrnoText("cannot read", p));
        ::close(fd);
        return st;
      }
      if (n == 0) break;
      used += static_cast<size_t>(n);
    }
    ::close(fd);
    out->resize(used);
    return Status::Ok();
  }

  Status Delete(const std::string& path) override {
    std::error_code ec;
    fs::remove(root_ / path, ec);
    if (ec) return Status::IOError("cannot delete " + path + ": " + ec.message());
    return Status::Ok();
  }

  Result<std::vector<std::string>> List(const std::string& prefix) override {
    // Walk only the deepest directory named by the prefix.
    std::string dir_part =
        prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/'));
    fs::path start = root_ / dir_part;
    std::vector<std::string> keys;
    std::error_code ec;
    if (!fs::exists(start, ec)) return keys;
    for (auto it = fs::recursive_directory_iterator(start, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      // Files come and go while the walk runs (a temporary file renamed into place): nothing
      // here may touch the file system again or throw; the key is derived lexically.
      std::error_code type_ec;
      if (!it->is_regular_file(type_ec)) continue;
      std::string key = it->path().lexically_relative(root_).generic_string();
      if (key.find(".tmp.") != std::string::npos) continue;  // in-flight writes
      if (key.compare(0, prefix.size(), prefix) == 0) keys.push_back(std::move(key));
    }
    if (ec) return Status::IOError("cannot list " + start.string() + ": " + ec.message());
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  std::string LocalRoot() const override { return root_.string(); }

 private:
  Status PutImpl(const std::string& path, std::string_view data, bool if_absent) {
    fs::path target = root_ / path;
    if (InjectedDiskFull())
      return Status::IOError("cannot write " + target.string() +
                             ": No space left on device (injected fault)");
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec)
      return Status::IOError("cannot create directory " + target.parent_path().string() + ": " +
                             ec.message());
    if (if_absent && fs::exists(target))
      return Status::AlreadyExists("object already exists: " + path);
    fs::path tmp = target;
    tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter_.fetch_add(1));
    if (Status st = WriteFileDurably(tmp, data); !st.ok()) {
      ::unlink(tmp.c_str());  // a full disk must not fill up with half-written objects
      return st;
    }
    if (if_absent) {
      // link() fails if the target exists, giving create-only semantics atomically.
      if (::link(tmp.c_str(), target.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        if (err == EEXIST) return Status::AlreadyExists("object already exists: " + path);
        errno = err;
        return Status::IOError(ErrnoText("cannot link", target));
      }
      ::unlink(tmp.c_str());
    } else if (::rename(tmp.c_str(), target.c_str()) != 0) {
      Status st = Status::IOError(ErrnoText("cannot rename onto", target));
      ::unlink(tmp.c_str());
      return st;
    }
    return FsyncDir(target.parent_path());
  }

  // Test hook for the end-to-end suite: with RIFFLE_FAULT=disk_full, every write fails as on a
  // full disk while the file FAULT_DISK_FULL exists in the store's root.
  bool InjectedDiskFull() const {
    if (!fault_disk_full_) return false;
    std::error_code ec;
    return fs::exists(root_ / "FAULT_DISK_FULL", ec);
  }

  fs::path root_;
  bool fault_disk_full_ = fault::Injected("disk_full");
  std::atomic<uint64_t> counter_{0};
};

}  // namespace

std::unique_ptr<ObjectStore> NewFileStore(std::string root_dir) {
  return std::make_unique<FileStore>(std::move(root_dir));
}

}  // namespace riffle::objstore
