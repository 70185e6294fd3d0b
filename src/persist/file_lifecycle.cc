// The life of a Parquet file: its key, its deferred deletion once no running query may read
// it, and the removal of files no manifest lists (left by a crash).
#include <algorithm>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/log.h"
#include "persist/manifest.h"
#include "persist/persister.h"

namespace riffle::persist {

std::string Persister::NewFileKey(uint32_t db_id, uint32_t table_id, const std::string& date_dir,
                                  const char* prefix, uint64_t sequence) const {
  char name[32];
  std::snprintf(name, sizeof name, "%s%010llu.parquet", prefix,
                static_cast<unsigned long long>(sequence));
  std::string key = options_.node_id + "/dbs/" + std::to_string(db_id) + "/" +
                    std::to_string(table_id) + "/" + date_dir + "/" + name;
  return key;
}

// Called under mu_ right after a Publish that stopped listing `key`.
void Persister::Retire(const std::string& key) {
  retired_.push_back({buffer_->PublishCount(), NowNanos(), key});
}

void Persister::DeleteRetired() {
  std::lock_guard lock(mu_);
  if (retired_.empty()) return;
  uint64_t oldest = readers_->OldestRunningQueryPublish();
  int64_t grace_before = NowNanos() - options_.retired_grace_ns;
  std::vector<RetiredFile> kept;
  for (auto& r : retired_) {
    if (oldest < r.publish || r.retired_ns > grace_before) {
      kept.push_back(std::move(r));
      continue;
    }
    if (Status st = local_->Remove(r.key); !st.ok())
      log::Warn("cannot remove " + r.key + ": " + st.message());
  }
  retired_ = std::move(kept);
}

void Persister::RemoveOrphans() {
  std::set<std::string> listed;
  for (const auto& f : files_) listed.insert(f.path);
  auto keys = store_->List(options_.node_id + "/dbs/");
  if (!keys.ok()) return;
  for (const auto& key : *keys) {
    if (listed.count(key) || key.size() < 8 || key.compare(key.size() - 8, 8, ".parquet") != 0)
      continue;
    if (local_->Remove(key).ok())
      log::Info("removed " + key +
                ": no snapshot manifest lists it (left by an interrupted snapshot)");
  }
}

}  // namespace riffle::persist
