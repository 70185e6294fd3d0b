// backup: consistent, incremental backups of a node's stored data, taken while writes go on
// (InfluxDB 3 Enterprise's `create backup`, `show backups`, `create restore`). A backup is kept
// in the object store at {node}/backups/{name}/: `backup.json` (sealed) lists every object it
// holds — the catalog, the tokens, the newest snapshot manifest, the Parquet files that manifest
// lists and the WAL files after it — and copies of them under objects/. An incremental backup
// copies only the Parquet files its parent chain does not already hold. A restore copies a
// backup's objects back into a store that holds no data yet; the server started on it then has
// exactly the writes acknowledged before the backup began (and maybe some acknowledged while it
// ran, never a partial one).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "objstore/object_store.h"
#include "persist/persister.h"

namespace riffle::backup {

struct BackupObject {
  std::string key;  // where the object lives in a node's store
  int64_t size = 0;
  std::string holder;  // the backup whose objects/ has the copy
};

struct BackupInfo {
  std::string name, type = "full", parent;
  int64_t created_ns = 0, completed_ns = 0;
  uint64_t wal_sequence = 0;  // the newest WAL file it holds: the backup point
  std::vector<BackupObject> objects;
  int64_t copied_objects = 0, copied_bytes = 0;  // what this backup copied itself
};

struct BackupRequest {
  std::string name;    // empty: a UTC timestamp
  std::string parent;  // set: an incremental backup chained from it
  bool force = false;  // replace a backup of the same name
};

// `node`: the node's prefix ({node}/wal, /snapshots, /dbs); `shared`: where the catalog and
// tokens are (the node id, or the cluster id).
Result<BackupInfo> CreateBackup(objstore::ObjectStore* store, persist::Persister* persister,
                                const std::string& node, const std::string& shared,
                                const BackupRequest& request);
Result<std::vector<BackupInfo>> ListBackups(objstore::ObjectStore* store, const std::string& node);
Result<BackupInfo> ReadBackup(objstore::ObjectStore* store, const std::string& node,
                              const std::string& name);
// Refused while another backup names it as its parent.
Status DeleteBackup(objstore::ObjectStore* store, const std::string& node, const std::string& name);
// Copies backup `name` of `from` into `to`, which must hold no catalog of `shared` yet (`from`
// and `to` may be the same store). The catalog is written last, so an interrupted restore can
// simply be run again.
Result<BackupInfo> Restore(objstore::ObjectStore* from, objstore::ObjectStore* to,
                           const std::string& node, const std::string& shared,
                           const std::string& name);

nlohmann::json ToJson(const BackupInfo& info, bool with_objects = false);

}  // namespace riffle::backup
