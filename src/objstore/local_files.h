// LocalFiles: the stored objects that DuckDB reads and writes as local files (Parquet). For the
// file store the object is the local file itself; a remote store (S3) stages uploads and keeps
// a cache of copies bounded by size here, behind the same calls, so persist/ and query/ do not
// change.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "objstore/object_store.h"

namespace riffle::objstore {

class LocalFiles {
 public:
  virtual ~LocalFiles() = default;
  // A local path at which the caller writes the new object `key` (its directory exists).
  virtual Result<std::string> Stage(const std::string& key) = 0;
  // Makes what was written at Stage(key) the durable object `key`; returns its size in bytes.
  virtual Result<int64_t> Commit(const std::string& key) = 0;
  // Forgets a staged object that will not be committed.
  virtual void Discard(const std::string& key) = 0;
  // The local path of object `key`. A remote store's copy is there only while pinned.
  virtual Result<std::string> PathFor(const std::string& key) = 0;
  // Keeps local copies of the objects `keys` (downloading the missing ones) until the returned
  // handle is dropped; unpinned copies may be evicted to keep the cache within its size. The
  // file store's objects are always there (the handle is empty).
  virtual Result<std::shared_ptr<void>> Pin(const std::vector<std::string>& keys) {
    (void)keys;
    return std::shared_ptr<void>();
  }
  // Removes object `key` from the store (and any local copy).
  virtual Status Remove(const std::string& key) = 0;
  // Drops the local copy of `key` but not the object (another node's file this node stopped
  // reading); nothing for stores whose objects are the local files.
  virtual void Forget(const std::string& key) { (void)key; }

  struct CacheStats {
    int64_t bytes = 0, limit_bytes = 0, files = 0;
    uint64_t hits = 0, misses = 0, evictions = 0;
  };
  // A remote store's cache of copies (for /metrics); nothing for the file store.
  virtual std::optional<CacheStats> Stats() { return std::nullopt; }
};

struct CacheOptions {
  std::string dir;                    // where a remote store's copies are kept
  int64_t limit_bytes = INT64_MAX;    // --parquet-mem-cache-size
  double prune_fraction = 0.1;        // --parquet-mem-cache-prune-percentage
};

// Local files of `store` (not owned). A file store's objects are its files; a remote store's
// are copies under `cache.dir`: written there and uploaded at Commit (write-through), downloaded
// when pinned, the least recently used unpinned ones evicted once they hold more than
// `cache.limit_bytes` (down to (1 - prune_fraction) of it). nullptr when there is neither
// (memory store).
std::unique_ptr<LocalFiles> NewLocalFiles(ObjectStore* store, const CacheOptions& cache = {});
// The remote store's part of the above (objstore/parquet_cache.cc).
std::unique_ptr<LocalFiles> NewParquetCache(ObjectStore* store, const CacheOptions& cache);

}  // namespace riffle::objstore
