// ObjectStore: the only way Riffle touches durable storage (WAL files, catalog, Parquet).
// Paths are '/'-separated keys relative to the store's root.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace riffle::objstore {

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Durable once this returns OK (file store: write temp, fsync, rename, fsync dir).
  virtual Status Put(const std::string& path, std::string_view data) = 0;
  // Fails with AlreadyExists if the object is there (used for WAL files: one writer per node).
  virtual Status PutIfAbsent(const std::string& path, std::string_view data) = 0;
  virtual Result<std::string> Get(const std::string& path) = 0;
  // The same into `*out`, whose memory a store may reuse (replay reads file after file).
  virtual Status GetInto(const std::string& path, std::string* out) {
    auto got = Get(path);
    if (!got.ok()) return got.status();
    *out = std::move(*got);
    return Status::Ok();
  }
  virtual Status Delete(const std::string& path) = 0;
  // Keys under `prefix`, sorted ascending.
  virtual Result<std::vector<std::string>> List(const std::string& prefix) = 0;
  // A local directory that holds the store's files, or "" for non-file stores.
  virtual std::string LocalRoot() const { return {}; }
  // The object `path` from, or into, a local file. The whole file passes through memory (Put
  // splits a large one into parts on S3); a store that can stream overrides these.
  virtual Status PutFile(const std::string& path, const std::string& local_file);
  virtual Status GetFile(const std::string& path, const std::string& local_file);
  // Whether PutIfAbsent is atomic between processes (several nodes writing one catalog rely
  // on it). `probe_key` is a scratch key a store may write and delete to find out.
  virtual Result<bool> CreateOnlyIsAtomic(const std::string& probe_key) {
    (void)probe_key;
    return true;
  }
  // Where the store's objects are, for messages ("file:///var/lib/x", "s3://bucket").
  virtual std::string Describe() const { return LocalRoot().empty() ? "memory" : LocalRoot(); }
};

// Reads and writes whole local files (for the defaults above and the Parquet cache).
Result<std::string> ReadLocalFile(const std::string& local_file);
Status WriteLocalFile(const std::string& local_file, std::string_view data);
// Creates the directory `local_file` goes in, with its parents.
Status CreateParentDirectories(const std::string& local_file);

std::unique_ptr<ObjectStore> NewMemoryStore();
std::unique_ptr<ObjectStore> NewFileStore(std::string root_dir);

}  // namespace riffle::objstore
