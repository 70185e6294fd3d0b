// Retention and deletes: files of deleted databases and tables, and of expired data, leave
// the manifest; the file lifecycle removes them once no query reads them.
#include <algorithm>
#include <map>

#include "common/clock.h"
#include "common/log.h"
#include "persist/manifest.h"
#include "persist/persister.h"

namespace riffle::persist {

Status Persister::Prune(bool expired_too) {
  if (!local_) return Status::Ok();
  std::lock_guard lock(mu_);
  auto state = catalog_->State();
  // Each live table's retention: its own, else its database's (nullopt: kept forever).
  std::map<uint32_t, std::optional<int64_t>> tables;
  for (const auto& [name, db] : state->databases) {
    if (db->deleted) continue;
    for (const auto& [tname, t] : db->tables) tables[t->id] = catalog::EffectiveRetention(*db, *t);
  }
  int64_t now = NowNanos();
  std::vector<ParquetFileInfo> kept, dropped;
  for (const auto& f : files_) {
    auto table = tables.find(f.table_id);
    bool expired = expired_too && table != tables.end() && table->second && f.max_time < now - *table->second;
    (table == tables.end() || expired ? dropped : kept).push_back(f);
  }
  if (dropped.empty()) return Status::Ok();
  std::vector<ParquetFileInfo> previous = files_;
  files_ = std::move(kept);
  if (Status st = WriteManifest(); !st.ok()) {
    files_ = std::move(previous);
    return st;
  }
  RIFFLE_RETURN_IF_ERROR(Publish(/*drop_frozen=*/false));
  for (const auto& f : dropped) Retire(f.path);
  log::Info("removed " + std::to_string(dropped.size()) +
            " Parquet files of deleted tables or expired data");
  return Status::Ok();
}

}  // namespace riffle::persist
