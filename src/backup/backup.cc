#include "backup/backup.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "common/checksummed.h"
#include "common/clock.h"
#include "common/log.h"
#include "persist/manifest.h"

namespace riffle::backup {

using nlohmann::json;

namespace {

constexpr const char* kMagic = "riffle-backup v1";

std::string BackupDir(const std::string& node, const std::string& name) {
  return node + "/backups/" + name + "/";
}

Status CheckName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 &&
            std::all_of(name.begin(), name.end(),
                        [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                 c == '_' || c == '.';
                        }) &&
            name != "." && name != "..";
  if (ok) return Status::Ok();
  return Status::InvalidArgument("invalid backup name '" + name +
                                 "': expected 1 to 64 letters, digits, '-', '_' or '.'");
}

std::string Serialize(const BackupInfo& info) {
  return SealWithChecksum(kMagic, ToJson(info, true).dump());
}

Result<BackupInfo> Parse(const std::string& contents) {
  RIFFLE_ASSIGN_OR_RETURN(std::string body, OpenChecksummed(kMagic, contents, "backup.json"));
  try {
    json j = json::parse(body);
    BackupInfo info;
    info.name = j.at("backup_name");
    info.type = j.at("type");
    info.parent = j.value("parent", "");
    info.created_ns = j.at("created_ns");
    info.completed_ns = j.at("completed_ns");
    info.wal_sequence = j.at("wal_sequence");
    info.copied_objects = j.at("copied_objects");
    info.copied_bytes = j.at("copied_bytes");
    for (const auto& o : j.at("objects"))
      info.objects.push_back({o.at("key"), o.at("size"), o.at("in")});
    return info;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("backup.json is not valid: ") + e.what());
  }
}

uint64_t WalSequenceOf(const std::string& key) {
  return std::strtoull(key.c_str() + key.rfind('/') + 1, nullptr, 10);
}

}  // namespace

json ToJson(const BackupInfo& info, bool with_objects) {
  int64_t bytes = 0;
  for (const auto& o : info.objects) bytes += o.size;
  json j = {{"backup_name", info.name},
            {"type", info.type},
            {"status", "completed"},
            {"created_ns", info.created_ns},
            {"completed_ns", info.completed_ns},
            {"created_at", FormatRfc3339Seconds(info.created_ns / 1'000'000'000)},
            {"wal_sequence", info.wal_sequence},
            {"object_count", info.objects.size()},
            {"bytes", bytes},
            {"copied_objects", info.copied_objects},
            {"copied_bytes", info.copied_bytes}};
  if (!info.parent.empty()) j["parent"] = info.parent;
  if (with_objects) {
    json objects = json::array();
    for (const auto& o : info.objects)
      objects.push_back({{"key", o.key}, {"size", o.size}, {"in", o.holder}});
    j["objects"] = std::move(objects);
  }
  return j;
}

Result<BackupInfo> ReadBackup(objstore::ObjectStore* store, const std::string& node,
                              const std::string& name) {
  RIFFLE_RETURN_IF_ERROR(CheckName(name));
  auto contents = store->Get(BackupDir(node, name) + "backup.json");
  if (!contents.ok()) {
    if (contents.status().code() == Code::kNotFound)
      return Status::NotFound("no backup named '" + name + "' (show backups lists them)");
    return contents.status();
  }
  return Parse(*contents);
}

Result<std::vector<BackupInfo>> ListBackups(objstore::ObjectStore* store, const std::string& node) {
  RIFFLE_ASSIGN_OR_RETURN(auto keys, store->List(node + "/backups/"));
  std::vector<BackupInfo> out;
  for (const auto& key : keys) {
    // {node}/backups/{name}/backup.json: an interrupted backup has none, and is not listed.
    if (key.size() < 12 || key.compare(key.size() - 12, 12, "/backup.json") != 0) continue;
    auto contents = store->Get(key);
    if (!contents.ok()) continue;
    auto info = Parse(*contents);
    if (!info.ok()) {
      log::Warn("skipping " + key + ": " + info.status().message());
      continue;
    }
    out.push_back(std::move(info).value());
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.created_ns < b.created_ns; });
  return out;
}

Result<BackupInfo> CreateBackup(objstore::ObjectStore* store, persist::Persister* persister,
                                const std::string& node, const std::string& shared,
                                const BackupRequest& request) {
  BackupInfo info;
  info.created_ns = NowNanos();
  info.name = request.name;
  if (info.name.empty()) {
    std::string t = FormatRfc3339Seconds(info.created_ns / 1'000'000'000);  // 2024-01-02T03:04:05Z
    t.erase(std::remove_if(t.begin(), t.end(), [](char c) { return c == '-' || c == ':'; }),
            t.end());
    info.name = "backup-" + t;
  }
  RIFFLE_RETURN_IF_ERROR(CheckName(info.name));
  const std::string dir = BackupDir(node, info.name);
  auto existing = ReadBackup(store, node, info.name);
  if (existing.ok() && !request.force)
    return Status::AlreadyExists("backup '" + info.name +
                                 "' exists; pass force (--force) to replace it");
  // What the parent chain already holds: Parquet files are never rewritten under one key, so a
  // copy in an older backup is the same file.
  std::map<std::string, BackupObject> held;
  if (!request.parent.empty()) {
    if (request.parent == info.name)
      return Status::InvalidArgument("a backup cannot be its own parent");
    RIFFLE_ASSIGN_OR_RETURN(BackupInfo parent, ReadBackup(store, node, request.parent));
    for (const auto& o : parent.objects) held[o.key] = o;
    info.type = "incremental";
    info.parent = request.parent;
  }
  if (existing.ok()) RIFFLE_RETURN_IF_ERROR(DeleteBackup(store, node, info.name));

  auto hold = persister->HoldFiles();
  // The snapshot manifest first, then the WAL after it, then the catalog: a catalog at least as
  // new as every write in the WAL copied.
  RIFFLE_ASSIGN_OR_RETURN(auto manifest, persist::ReadNewestManifest(store, node));
  std::vector<std::string> keys;
  uint64_t covered = 0;
  if (manifest) {
    covered = manifest->manifest.wal_sequence;
    keys.push_back(manifest->key);
    for (const auto& f : manifest->manifest.files) keys.push_back(f.path);
  }
  RIFFLE_ASSIGN_OR_RETURN(auto wal_keys, store->List(node + "/wal/"));
  for (const auto& key : wal_keys) {
    uint64_t seq = WalSequenceOf(key);
    if (seq <= covered) continue;
    keys.push_back(key);
    info.wal_sequence = std::max(info.wal_sequence, seq);
  }
  info.wal_sequence = std::max(info.wal_sequence, covered);
  RIFFLE_ASSIGN_OR_RETURN(auto catalog_keys, store->List(shared + "/catalog/"));
  if (catalog_keys.empty())
    return Status::NotFound("there is nothing to back up yet: no catalog in " + shared +
                            "/catalog/");
  keys.insert(keys.end(), catalog_keys.begin(), catalog_keys.end());
  if (store->Get(shared + "/tokens.json").ok()) keys.push_back(shared + "/tokens.json");

  for (const auto& key : keys) {
    bool parquet = key.size() > 8 && key.compare(key.size() - 8, 8, ".parquet") == 0;
    auto it = held.find(key);
    if (parquet && it != held.end()) {
      info.objects.push_back(it->second);
      continue;
    }
    auto data = store->Get(key);
    if (!data.ok())
      return Status(data.status().code(),
                    "backup: reading " + key + ": " + data.status().message());
    RIFFLE_RETURN_IF_ERROR(store->Put(dir + "objects/" + key, *data));
    info.objects.push_back({key, static_cast<int64_t>(data->size()), info.name});
    info.copied_objects += 1;
    info.copied_bytes += static_cast<int64_t>(data->size());
    persist::MaybeCrash("backup_mid_copy");
  }
  hold.unlock();
  info.completed_ns = NowNanos();
  // Written last: a backup without it was interrupted and is not listed.
  RIFFLE_RETURN_IF_ERROR(store->Put(dir + "backup.json", Serialize(info)));
  log::Info("backup '" + info.name + "': " + std::to_string(info.objects.size()) +
            " objects up to WAL file " + std::to_string(info.wal_sequence) + ", " +
            std::to_string(info.copied_objects) + " copied (" + std::to_string(info.copied_bytes) +
            " bytes) in " + std::to_string((info.completed_ns - info.created_ns) / 1'000'000) +
            " ms");
  return info;
}

Status DeleteBackup(objstore::ObjectStore* store, const std::string& node,
                    const std::string& name) {
  RIFFLE_RETURN_IF_ERROR(CheckName(name));
  RIFFLE_ASSIGN_OR_RETURN(auto all, ListBackups(store, node));
  for (const auto& b : all)
    if (b.parent == name)
      return Status::Conflict("backup '" + name + "' is the parent of incremental backup '" +
                              b.name + "'; delete that one first");
  const std::string dir = BackupDir(node, name);
  RIFFLE_ASSIGN_OR_RETURN(auto keys, store->List(dir));
  if (keys.empty()) return Status::NotFound("no backup named '" + name + "'");
  // backup.json first: a half-deleted backup is no longer listed.
  if (std::find(keys.begin(), keys.end(), dir + "backup.json") != keys.end())
    RIFFLE_RETURN_IF_ERROR(store->Delete(dir + "backup.json"));
  for (const auto& key : keys)
    if (key != dir + "backup.json") RIFFLE_RETURN_IF_ERROR(store->Delete(key));
  return Status::Ok();
}

Result<BackupInfo> Restore(objstore::ObjectStore* from, objstore::ObjectStore* to,
                           const std::string& node, const std::string& shared,
                           const std::string& name) {
  RIFFLE_ASSIGN_OR_RETURN(BackupInfo info, ReadBackup(from, node, name));
  RIFFLE_ASSIGN_OR_RETURN(auto catalog, to->List(shared + "/catalog/"));
  if (!catalog.empty())
    return Status::AlreadyExists("the target already holds data (" + catalog.front() +
                                 "): restore into an empty data dir or bucket");
  // Everything but the catalog, then the catalog: until it is there the target counts as empty.
  std::vector<const BackupObject*> ordered;
  for (const auto& o : info.objects)
    if (o.key.rfind(shared + "/catalog/", 0) != 0) ordered.push_back(&o);
  for (const auto& o : info.objects)
    if (o.key.rfind(shared + "/catalog/", 0) == 0) ordered.push_back(&o);
  for (const BackupObject* o : ordered) {
    auto data = from->Get(BackupDir(node, o->holder) + "objects/" + o->key);
    if (!data.ok())
      return Status(data.status().code(), "restore: backup '" + o->holder + "' lacks its copy of " +
                                              o->key + ": " + data.status().message());
    if (static_cast<int64_t>(data->size()) != o->size)
      return Status::IOError("restore: the copy of " + o->key + " in backup '" + o->holder +
                             "' has " + std::to_string(data->size()) + " bytes, expected " +
                             std::to_string(o->size));
    RIFFLE_RETURN_IF_ERROR(to->Put(o->key, *data));
  }
  return info;
}

}  // namespace riffle::backup
