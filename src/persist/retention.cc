// Retention and deletes: files of deleted databases and tables, and of expired data, leave
// the manifest; the file lifecycle removes them once no query reads them.
#include <algorithm>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/log.h"
#include "persist/manifest.h"
#include "persist/persister.h"

namespace riffle::persist {

Status Persister::Prune(bool expired_too) {
  if (!local_) return Status::Ok();
  std::lock_guard lock(mu_);
  auto state = catalog_->State();
  std::map<uint32_t, const catalog::Database*> dbs;
  std::set<uint32_t> tables;
  for (const auto& [name, db] : state->databases) {
    if (db->deleted) continue;
    dbs[db->id] = db.get();
    for (const auto& [tname, t] : db->tables) tables.insert(t->id);
  }
  int64_t now = NowNanos();
  std::vector<ParquetFileInfo> kept, dropped;
  for (const auto& f : files_) {
    auto db = dbs.find(f.db_id);
    bool expired = expired_too && db != dbs.end() && db->second->retention_ns &&
                   f.max_time < now - *db->second->retention_ns;
    (db == dbs.end() || !tables.count(f.table_id) || expired ? dropped : kept).push_back(f);
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
