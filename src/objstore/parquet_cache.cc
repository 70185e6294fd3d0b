// The local copies of a remote store's Parquet objects that DuckDB reads: written through when
// a snapshot or a compaction commits a file, downloaded when a query pins a file that is not
// here, and the least recently used unpinned copies removed once they hold more than the limit.
//
// Nothing reads a copy without pinning it first (queries pin the files of the tables they
// name until their result ends; views name the files only through per-connection variables),
// so an evicted copy is never missed: the next pin downloads it again.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "common/log.h"
#include "objstore/local_files.h"

namespace riffle::objstore {
namespace {

namespace fs = std::filesystem;

class ParquetCache final : public LocalFiles {
 public:
  ParquetCache(ObjectStore* store, const CacheOptions& options)
      : store_(store), options_(options) {
    if (options_.limit_bytes < 0) options_.limit_bytes = 0;
    options_.prune_fraction = std::clamp(options_.prune_fraction, 0.0, 1.0);
    Scan();
  }

  Result<std::string> Stage(const std::string& key) override {
    RIFFLE_RETURN_IF_ERROR(CreateParentDirectories(Path(key)));
    return Path(key);
  }

  // Uploaded before the manifest that lists it is written: a manifest never names an object
  // the store does not have.
  Result<int64_t> Commit(const std::string& key) override {
    std::string path = Path(key);
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) return Status::IOError("cannot read the size of " + path + ": " + ec.message());
    RIFFLE_RETURN_IF_ERROR(store_->PutFile(key, path));
    std::lock_guard lock(mu_);
    Entry& e = entries_[key];
    total_ += static_cast<int64_t>(size) - (e.present ? e.bytes : 0);
    e.present = true;
    e.bytes = static_cast<int64_t>(size);
    e.last_use = ++clock_;
    EvictLocked();
    return static_cast<int64_t>(size);
  }

  void Discard(const std::string& key) override {
    std::lock_guard lock(mu_);
    DropLocked(key);
  }

  Result<std::string> PathFor(const std::string& key) override { return Path(key); }

  Result<std::shared_ptr<void>> Pin(const std::vector<std::string>& keys) override {
    std::vector<std::string> unique(keys);
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    std::vector<std::string> missing;
    {
      std::lock_guard lock(mu_);
      for (const auto& key : unique) {
        Entry& e = entries_[key];
        ++e.pins;
        e.last_use = ++clock_;
        if (e.present)
          ++hits_;
        else
          missing.push_back(key);
      }
    }
    // The handle unpins whatever happens below.
    auto handle = std::shared_ptr<void>(new Pinned{this, unique}, [](void* p) {
      auto* pinned = static_cast<Pinned*>(p);
      pinned->cache->Unpin(pinned->keys);
      delete pinned;
    });
    RIFFLE_RETURN_IF_ERROR(DownloadAll(missing));
    return handle;
  }

  Status Remove(const std::string& key) override {
    RIFFLE_RETURN_IF_ERROR(store_->Delete(key));
    Discard(key);
    return Status::Ok();
  }

  void Forget(const std::string& key) override { Discard(key); }

  std::optional<CacheStats> Stats() override {
    std::lock_guard lock(mu_);
    CacheStats s;
    s.bytes = total_;
    s.limit_bytes = options_.limit_bytes;
    for (const auto& [key, e] : entries_) s.files += e.present ? 1 : 0;
    s.hits = hits_;
    s.misses = misses_;
    s.evictions = evictions_;
    return s;
  }

 private:
  struct Entry {
    bool present = false;
    int64_t bytes = 0;
    uint64_t last_use = 0;
    int pins = 0;
  };
  struct Pinned {
    ParquetCache* cache;
    std::vector<std::string> keys;
  };

  std::string Path(const std::string& key) const { return options_.dir + "/" + key; }

  // A few at a time: a cold query over many small files waits for the slowest of a batch, not
  // for the sum of their round trips.
  Status DownloadAll(const std::vector<std::string>& keys) {
    if (keys.size() <= 1) return keys.empty() ? Status::Ok() : Download(keys[0]);
    std::atomic<size_t> next{0};
    std::mutex failed_mu;
    Status failed;
    auto work = [&] {
      for (size_t i = next++; i < keys.size(); i = next++) {
        Status st = Download(keys[i]);
        std::lock_guard lock(failed_mu);
        if (!st.ok() && failed.ok()) failed = st;
      }
    };
    std::vector<std::thread> workers;
    for (size_t i = 1; i < std::min(keys.size(), kParallelDownloads); ++i) workers.emplace_back(work);
    work();
    for (auto& w : workers) w.join();
    return failed;
  }

  // Two queries that need the same file wait for one copy.
  Status Download(const std::string& key) {
    std::unique_lock lock(mu_);
    download_cv_.wait(lock, [&] { return !downloading_.count(key); });
    if (entries_[key].present) return Status::Ok();
    downloading_.insert(key);
    lock.unlock();
    std::string path = Path(key);
    Status st = store_->GetFile(key, path);
    std::error_code ec;
    auto size = st.ok() ? fs::file_size(path, ec) : 0;
    if (st.ok() && ec) st = Status::IOError("cannot read the size of " + path + ": " + ec.message());
    lock.lock();
    downloading_.erase(key);
    download_cv_.notify_all();
    if (!st.ok()) return st;
    Entry& e = entries_[key];
    if (!e.present) total_ += static_cast<int64_t>(size);
    e.present = true;
    e.bytes = static_cast<int64_t>(size);
    ++misses_;
    return Status::Ok();
  }

  void Unpin(const std::vector<std::string>& keys) {
    std::lock_guard lock(mu_);
    for (const auto& key : keys) {
      auto it = entries_.find(key);
      if (it == entries_.end()) continue;  // removed while pinned (its object was deleted)
      if (--it->second.pins <= 0 && !it->second.present) entries_.erase(it);
    }
    EvictLocked();
  }

  void DropLocked(const std::string& key) {
    std::error_code ec;
    fs::remove(Path(key), ec);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    if (it->second.present) total_ -= it->second.bytes;
    entries_.erase(it);
  }

  // Over the limit: the least recently used unpinned copies go until the cache is back under
  // (1 - prune_fraction) of it, so that one more file does not make every pin evict.
  void EvictLocked() {
    if (total_ <= options_.limit_bytes) return;
    auto target = static_cast<int64_t>(static_cast<double>(options_.limit_bytes) *
                                       (1.0 - options_.prune_fraction));
    std::vector<std::pair<uint64_t, std::string>> candidates;
    for (const auto& [key, e] : entries_)
      if (e.present && e.pins == 0) candidates.emplace_back(e.last_use, key);
    std::sort(candidates.begin(), candidates.end());
    for (const auto& [use, key] : candidates) {
      if (total_ <= target) break;
      DropLocked(key);
      ++evictions_;
    }
  }

  // The copies a previous run left count against the limit, oldest first; half-downloaded
  // files (WriteLocalFile's temporaries) are removed.
  void Scan() {
    std::error_code ec;
    if (!fs::exists(options_.dir, ec)) return;
    std::vector<std::pair<fs::file_time_type, std::string>> found;
    for (auto it = fs::recursive_directory_iterator(options_.dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string path = it->path().string();
      if (path.find(".part.") != std::string::npos) {
        fs::remove(path, ec);
        continue;
      }
      found.emplace_back(it->last_write_time(ec), path);
    }
    std::sort(found.begin(), found.end());
    std::lock_guard lock(mu_);
    for (const auto& [time, path] : found) {
      auto size = fs::file_size(path, ec);
      if (ec) continue;
      Entry& e = entries_[path.substr(options_.dir.size() + 1)];
      e.present = true;
      e.bytes = static_cast<int64_t>(size);
      e.last_use = ++clock_;
      total_ += e.bytes;
    }
    EvictLocked();
  }

  ObjectStore* store_;
  CacheOptions options_;
  static constexpr size_t kParallelDownloads = 8;
  std::mutex mu_;  // guards everything below
  std::condition_variable download_cv_;
  std::set<std::string> downloading_;  // keys being downloaded
  std::map<std::string, Entry> entries_;  // by object key
  int64_t total_ = 0;
  uint64_t clock_ = 0;
  uint64_t hits_ = 0, misses_ = 0, evictions_ = 0;
};

}  // namespace

std::unique_ptr<LocalFiles> NewParquetCache(ObjectStore* store, const CacheOptions& cache) {
  return std::make_unique<ParquetCache>(store, cache);
}

}  // namespace riffle::objstore
