#include "objstore/local_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace riffle::objstore {
namespace {

namespace fs = std::filesystem;

Status Fsync(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0)
    return Status::IOError("cannot open " + path + " to sync it: " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok()
                 : Status::IOError("cannot fsync " + path + ": " + std::strerror(errno));
}

// The file store's objects are files under its root: staged in place, made durable by fsync
// of the file and of its directory entry.
class FileStoreFiles final : public LocalFiles {
 public:
  FileStoreFiles(ObjectStore* store, std::string root) : store_(store), root_(std::move(root)) {}

  Result<std::string> Stage(const std::string& key) override {
    RIFFLE_RETURN_IF_ERROR(CreateParentDirectories(Path(key)));
    return Path(key);
  }
  Result<int64_t> Commit(const std::string& key) override {
    std::string path = Path(key);
    RIFFLE_RETURN_IF_ERROR(Fsync(path, false));
    RIFFLE_RETURN_IF_ERROR(Fsync(fs::path(path).parent_path().string(), true));
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) return Status::IOError("cannot read the size of " + path + ": " + ec.message());
    return static_cast<int64_t>(size);
  }
  void Discard(const std::string& key) override {
    std::error_code ec;
    fs::remove(Path(key), ec);
  }
  Result<std::string> PathFor(const std::string& key) override { return Path(key); }
  Status Remove(const std::string& key) override { return store_->Delete(key); }

 private:
  std::string Path(const std::string& key) const { return root_ + "/" + key; }
  ObjectStore* store_;
  std::string root_;
};

}  // namespace

std::unique_ptr<LocalFiles> NewLocalFiles(ObjectStore* store, const CacheOptions& cache) {
  std::string root = store->LocalRoot();
  if (!root.empty()) return std::make_unique<FileStoreFiles>(store, std::move(root));
  if (!cache.dir.empty()) return NewParquetCache(store, cache);
  return nullptr;
}

}  // namespace riffle::objstore
