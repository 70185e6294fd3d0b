// LocalFiles: the stored objects that DuckDB reads and writes as local files (Parquet). For the
// file store the object is the local file itself; a remote store (S3) will stage uploads and
// keep a bounded cache of downloads here, behind the same calls, so persist/ and query/ do
// not change.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

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
  // A local path that holds object `key`, for reading.
  virtual Result<std::string> PathFor(const std::string& key) = 0;
  // Removes object `key` from the store (and any local copy).
  virtual Status Remove(const std::string& key) = 0;
  // Drops the local copy of `key` but not the object (another node's file this node stopped
  // reading); nothing for stores whose objects are the local files.
  virtual void Forget(const std::string& key) { (void)key; }
};

// Local files of `store` (not owned). A file store's objects are its files; a remote store's
// are copies under `cache_dir`: written there and uploaded at Commit, downloaded on first use.
// nullptr when there is neither (memory store).
std::unique_ptr<LocalFiles> NewLocalFiles(ObjectStore* store, const std::string& cache_dir = "");

}  // namespace riffle::objstore
