#include "persist/persister.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <algorithm>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "common/checksummed.h"
#include "common/clock.h"
#include "common/log.h"

namespace riffle::persist {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kMagic = "riffle-snapshot v1";

// Test hook: RIFFLE_FAULT=<point> kills the process at that point of a snapshot, so the
// end-to-end suite can prove that no crash window loses acknowledged data.
void MaybeCrash(const char* point) {
  const char* fault = std::getenv("RIFFLE_FAULT");
  if (fault && std::string(fault) == point) {
    log::Error(std::string("RIFFLE_FAULT: crashing at ") + point);
    ::raise(SIGKILL);
  }
}

Status FsyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return Status::IOError("cannot open " + path + " to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Status::IOError("cannot fsync " + path);
}

// A file DuckDB just wrote: its data and its directory entry made durable.
Status SyncNewFile(const std::string& path) {
  RIFFLE_RETURN_IF_ERROR(FsyncPath(path, false));
  return FsyncPath(fs::path(path).parent_path().string(), true);
}

std::string Serialize(uint64_t wal_seq, const std::vector<ParquetFileInfo>& files,
                      const query::DuplicateRanges& duplicates) {
  json j = {{"wal_sequence", wal_seq}, {"files", json::array()}};
  for (const auto& f : files)
    j["files"].push_back({{"db_id", f.db_id}, {"table_id", f.table_id}, {"path", f.path}, {"size_bytes", f.size_bytes},
                          {"rows", f.rows}, {"min_time", f.min_time}, {"max_time", f.max_time}});
  // Older manifests have no such key: their tables were written before repeats were merged.
  json ranges = json::object();
  for (const auto& [table_id, list] : duplicates) {
    json& out = ranges[std::to_string(table_id)] = json::array();
    for (const auto& r : list) out.push_back({r.lo, r.hi});
  }
  j["duplicate_ranges"] = std::move(ranges);
  return SealWithChecksum(kMagic, j.dump());
}

struct Manifest {
  uint64_t wal_sequence = 0;
  std::vector<ParquetFileInfo> files;
  query::DuplicateRanges duplicates;
};

Result<Manifest> Deserialize(const std::string& contents) {
  auto body = OpenChecksummed(kMagic, contents, "snapshot manifest");
  if (!body.ok()) return body.status();
  try {
    json j = json::parse(*body);
    Manifest m;
    m.wal_sequence = j.at("wal_sequence").get<uint64_t>();
    for (const auto& f : j.at("files"))
      m.files.push_back({f.at("db_id"), f.at("table_id"), f.at("path"), f.at("size_bytes"), f.at("rows"),
                         f.at("min_time"), f.at("max_time")});
    if (j.contains("duplicate_ranges"))
      for (const auto& [table_id, list] : j.at("duplicate_ranges").items())
        for (const auto& r : list)
          m.duplicates[static_cast<uint32_t>(std::stoul(table_id))].push_back({r.at(0), r.at(1)});
    return m;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("snapshot manifest is not valid: ") + e.what());
  }
}

}  // namespace

Persister::Persister(PersistOptions options, objstore::ObjectStore* store, catalog::Catalog* catalog,
                     buffer::Buffer* buffer, query::FileReaders* readers, wal::Wal* wal)
    : options_(std::move(options)), store_(store), catalog_(catalog), buffer_(buffer), readers_(readers), wal_(wal) {}

Result<uint64_t> Persister::Load() {
  std::lock_guard lock(mu_);
  auto keys = store_->List(options_.node_id + "/snapshots/");
  if (!keys.ok()) return keys.status();
  for (auto it = keys->rbegin(); it != keys->rend(); ++it) {
    auto contents = store_->Get(*it);
    if (!contents.ok()) continue;
    auto manifest = Deserialize(*contents);
    if (!manifest.ok()) {
      log::Error("skipping snapshot manifest " + *it + ": " + manifest.status().message());
      continue;
    }
    manifest_sequence_ = std::strtoull(it->c_str() + it->rfind('/') + 1, nullptr, 10);
    covered_wal_sequence_ = manifest->wal_sequence;
    files_ = std::move(manifest->files);
    query::DuplicateRanges persisted;
    for (const auto& f : files_) persisted[f.table_id].push_back({f.min_time, f.max_time});
    buffer_->RestoreDuplicates(manifest->duplicates, persisted);
    // Parquet files no manifest lists are leftovers of a crash mid-snapshot or mid-compaction
    // (their rows are in the WAL or in the listed files). Only when the newest manifest is the
    // one in use: after a fallback, the newer files may be the only copy of their rows.
    if (it == keys->rbegin()) RemoveOrphans();
    break;
  }
  RIFFLE_RETURN_IF_ERROR(Publish(/*drop_frozen=*/false));
  if (!files_.empty())
    log::Info("loaded " + std::to_string(files_.size()) + " Parquet files covering WAL up to " +
              std::to_string(covered_wal_sequence_));
  return covered_wal_sequence_;
}

void Persister::RemoveOrphans() {
  std::set<std::string> listed;
  for (const auto& f : files_) listed.insert(f.path);
  auto keys = store_->List(options_.node_id + "/dbs/");
  if (!keys.ok()) return;
  for (const auto& key : *keys) {
    if (listed.count(key) || key.size() < 8 || key.compare(key.size() - 8, 8, ".parquet") != 0) continue;
    std::error_code ec;
    fs::remove(LocalPath(key), ec);
    if (!ec) log::Info("removed " + key + ": no snapshot manifest lists it (left by an interrupted snapshot)");
  }
}

Status Persister::Compact() {
  constexpr int64_t kDay = 86'400'000'000'000;
  auto day_of = [](int64_t t) { return t >= 0 ? t / kDay : (t - kDay + 1) / kDay; };
  std::vector<ParquetFileInfo> group;
  uint32_t table_id = 0;
  uint64_t output_seq;
  {
    std::lock_guard lock(mu_);
    std::map<std::pair<uint32_t, int64_t>, std::vector<ParquetFileInfo>> by_day;
    int64_t today = day_of(NowNanos());
    for (const auto& f : files_) {
      int64_t day = day_of(f.min_time);
      if (day_of(f.max_time) != day || day >= today) continue;  // only whole, closed days
      by_day[{f.table_id, day}].push_back(f);
    }
    for (auto& [key, files] : by_day) {
      if (files.size() < std::max<size_t>(options_.compact_min_files, 2)) continue;
      // The merged file takes the place of the newest input, so no other file of the table
      // that covers part of that day may lie between the inputs (where points repeat, the
      // order of files says which values are newer).
      std::set<std::string> members;
      for (const auto& f : files) members.insert(f.path);
      size_t first = files_.size(), last = 0;
      for (size_t i = 0; i < files_.size(); ++i)
        if (members.count(files_[i].path)) first = std::min(first, i), last = i;
      bool interleaved = false;
      for (size_t i = first; i < last && !interleaved; ++i) {
        const auto& f = files_[i];
        interleaved = !members.count(f.path) && f.table_id == key.first && day_of(f.min_time) <= key.second &&
                      key.second <= day_of(f.max_time);
      }
      if (interleaved) continue;
      group = std::move(files);
      table_id = key.first;
      break;
    }
    output_seq = manifest_sequence_ + 1;
  }
  if (group.empty()) return Status::Ok();
  const catalog::Database* table_db = nullptr;
  const catalog::Table* table = nullptr;
  auto state = catalog_->State();
  for (const auto& [name, db] : state->databases)
    for (const auto& [tname, t] : db->tables)
      if (t->id == table_id) table_db = db.get(), table = t.get();
  if (!table) return Status::Ok();  // deleted meanwhile; Prune removes its files
  ParquetFileInfo merged{group[0].db_id, group[0].table_id, "", 0, 0, group[0].min_time, group[0].max_time};
  std::vector<std::string> inputs;
  for (const auto& f : group) {
    inputs.push_back(LocalPath(f.path));
    merged.rows += f.rows;
    merged.min_time = std::min(merged.min_time, f.min_time);
    merged.max_time = std::max(merged.max_time, f.max_time);
  }
  std::string day = FormatTimestampNanos(merged.min_time).substr(0, 10);
  std::string key = NewFileKey(merged.db_id, merged.table_id, day + "/00-00", "c", output_seq);
  merged.path = key;
  std::error_code ec;
  RIFFLE_RETURN_IF_ERROR(buffer_->MergeParquet(*table, inputs, LocalPath(key)));
  RIFFLE_RETURN_IF_ERROR(SyncNewFile(LocalPath(key)));
  merged.size_bytes = static_cast<int64_t>(fs::file_size(LocalPath(key), ec));
  MaybeCrash("after_compact_parquet");
  std::lock_guard lock(mu_);
  std::set<std::string> inputs_left;
  for (const auto& f : group) inputs_left.insert(f.path);
  std::vector<ParquetFileInfo> kept;
  for (const auto& f : files_) {
    if (!inputs_left.erase(f.path)) kept.push_back(f);
    else if (inputs_left.empty()) kept.push_back(merged);  // where the newest input was
  }
  if (!inputs_left.empty()) {  // a delete or retention check took some inputs meanwhile
    fs::remove(LocalPath(key), ec);
    return Status::Ok();
  }
  std::vector<ParquetFileInfo> previous = std::move(files_);
  files_ = std::move(kept);
  if (Status st = WriteManifest(); !st.ok()) {
    files_ = std::move(previous);
    fs::remove(LocalPath(key), ec);
    return st;
  }
  MaybeCrash("after_compact_manifest");
  RIFFLE_RETURN_IF_ERROR(Publish(/*drop_frozen=*/false));
  for (const auto& f : group) Retire(f.path);
  // The day's persisted rows are now one file with each point once: if no other file covers
  // part of the day (and the buffer holds none of it), queries need not merge it any more. The
  // next manifest records the smaller ranges.
  int64_t day_lo = day_of(merged.min_time) * kDay, day_hi = day_lo + kDay - 1;
  bool alone = true;
  for (const auto& f : files_)
    if (f.table_id == merged.table_id && f.path != merged.path && f.min_time <= day_hi && day_lo <= f.max_time)
      alone = false;
  if (alone) {
    Status st = table_db->deleted ? Status::Ok() : buffer_->ForgetDuplicates(*table_db, *table, day_lo, day_hi);
    if (!st.ok())
      log::Warn("compaction: " + st.message());
  }
  log::Info("compaction: merged " + std::to_string(group.size()) + " Parquet files (" + std::to_string(merged.rows) +
            " rows of " + day + ") into " + merged.path);
  return Status::Ok();
}

std::string Persister::NewFileKey(uint32_t db_id, uint32_t table_id, const std::string& date_dir, const char* prefix,
                                  uint64_t sequence) const {
  char name[32];
  std::snprintf(name, sizeof name, "%s%010llu.parquet", prefix, static_cast<unsigned long long>(sequence));
  std::string key = options_.node_id + "/dbs/" + std::to_string(db_id) + "/" + std::to_string(table_id) + "/" +
                    date_dir + "/" + name;
  std::error_code ec;
  fs::create_directories(fs::path(LocalPath(key)).parent_path(), ec);
  return key;
}

// Called under mu_ right after a Publish that stopped listing `key`.
void Persister::Retire(const std::string& key) { retired_.push_back({buffer_->PublishCount(), key}); }

void Persister::DeleteRetired() {
  std::lock_guard lock(mu_);
  if (retired_.empty()) return;
  uint64_t oldest = readers_->OldestRunningQueryPublish();
  std::vector<RetiredFile> kept;
  for (auto& r : retired_) {
    if (oldest < r.publish) {
      kept.push_back(std::move(r));
      continue;
    }
    std::error_code ec;
    fs::remove(LocalPath(r.key), ec);
  }
  retired_ = std::move(kept);
}

Status Persister::Publish(bool drop_frozen) {
  std::map<uint32_t, std::vector<query::PersistedFile>> by_table;
  for (const auto& f : files_)
    by_table[f.table_id].push_back({f.db_id, f.table_id, LocalPath(f.path), f.rows, f.min_time, f.max_time});
  return buffer_->PublishParquet(*catalog_->State(), by_table, drop_frozen);
}

Status Persister::WriteManifest() {
  char name[40];
  std::snprintf(name, sizeof name, "%020llu.json", static_cast<unsigned long long>(manifest_sequence_ + 1));
  RIFFLE_RETURN_IF_ERROR(
      store_->Put(options_.node_id + "/snapshots/" + name, Serialize(covered_wal_sequence_, files_, buffer_->DuplicateTimeRanges())));
  if (manifest_sequence_ >= 2) {
    std::snprintf(name, sizeof name, "%020llu.json", static_cast<unsigned long long>(manifest_sequence_ - 1));
    (void)store_->Delete(options_.node_id + "/snapshots/" + name);
  }
  ++manifest_sequence_;
  return Status::Ok();
}

void Persister::Start() {
  if (options_.root_dir.empty()) return;
  thread_ = std::thread([this] { BackgroundLoop(); });
}

void Persister::Stop() {
  {
    std::lock_guard lock(thread_mu_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Persister::BackgroundLoop() {
  auto next_retention_check = std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.retention_check_ns);
  std::unique_lock lock(thread_mu_);
  for (;;) {
    // Wakes at least every second to delete the files queries no longer read.
    auto wake = std::min(next_retention_check, std::chrono::steady_clock::now() + std::chrono::seconds(1));
    thread_cv_.wait_until(lock, wake, [this] { return stopping_ || snapshot_requested_; });
    if (stopping_) return;
    lock.unlock();
    DeleteRetired();
    lock.lock();
    bool snapshot = snapshot_requested_;
    snapshot_requested_ = false;
    lock.unlock();
    if (snapshot) {
      // A failed snapshot keeps its rows frozen (still queried, still in the WAL) and is
      // retried after 10 s with the same WAL coverage.
      for (Status st = PersistFrozen(); !st.ok(); st = PersistFrozen()) {
        log::Error("snapshot failed (its rows stay in memory and in the WAL; retrying in 10 s): " + st.message());
        std::unique_lock wait(thread_mu_);
        if (thread_cv_.wait_for(wait, std::chrono::seconds(10), [this] { return stopping_; })) return;
      }
      if (Status st = Compact(); !st.ok()) log::Error("compaction failed (the files stay as they are): " + st.message());
    }
    if (std::chrono::steady_clock::now() >= next_retention_check) {
      next_retention_check = std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.retention_check_ns);
      if (Status st = Prune(/*expired=*/true); !st.ok()) log::Error("retention check failed: " + st.message());
    }
    lock.lock();
  }
}

void Persister::AfterFlush(uint64_t wal_sequence) {
  if (options_.root_dir.empty()) return;
  {
    std::lock_guard lock(mu_);
    if (snapshot_in_progress_) return;
    // As InfluxDB: snapshot once 1.5 × --wal-snapshot-size files are not yet persisted.
    bool due = 2 * (wal_sequence - covered_wal_sequence_) >= 3 * options_.snapshot_wal_files;
    if (!due && options_.snapshot_buffer_bytes > 0) due = buffer_->MemoryBytes() >= options_.snapshot_buffer_bytes;
    if (!due) return;
    auto frozen = buffer_->Freeze(*catalog_->State());
    if (!frozen.ok()) {
      log::Error("snapshot: cannot set the buffer aside: " + frozen.status().message());
      return;
    }
    snapshot_in_progress_ = true;
    frozen_sequence_ = wal_sequence;
  }
  {
    std::lock_guard lock(thread_mu_);
    snapshot_requested_ = true;
  }
  thread_cv_.notify_all();
}

Status Persister::PersistFrozen() {
  uint64_t wal_sequence;
  {
    std::lock_guard lock(mu_);
    if (!snapshot_in_progress_) return Status::Ok();
    wal_sequence = frozen_sequence_;
  }
  auto state = catalog_->State();
  int64_t started = NowNanos();
  // Parquet encoding runs without the persister lock: queries of system.parquet_files and
  // catalog changes are not held up by it.
  auto written = buffer_->WriteParquet(*state, options_.gen1_ns, [&](const catalog::Database& db,
                                                                      const catalog::Table& table, int64_t chunk_start) {
    std::string t = FormatTimestampNanos(chunk_start);  // YYYY-MM-DDTHH:MM:SS...
    return LocalPath(NewFileKey(db.id, table.id, t.substr(0, 10) + "/" + t.substr(11, 2) + "-" + t.substr(14, 2), "",
                                wal_sequence));
  });
  if (!written.ok()) return written.status();
  std::vector<ParquetFileInfo> added;
  for (const auto& w : *written) {
    RIFFLE_RETURN_IF_ERROR(SyncNewFile(w.path));
    std::error_code ec;
    int64_t size = static_cast<int64_t>(fs::file_size(w.path, ec));
    added.push_back({w.db_id, w.table_id, w.path.substr(options_.root_dir.size() + 1), size, w.rows, w.min_time,
                     w.max_time});
  }
  MaybeCrash("after_parquet");
  std::lock_guard lock(mu_);
  std::vector<ParquetFileInfo> previous = files_;
  uint64_t previous_covered = covered_wal_sequence_;
  files_.insert(files_.end(), added.begin(), added.end());
  covered_wal_sequence_ = wal_sequence;
  if (Status st = WriteManifest(); !st.ok()) {
    files_ = std::move(previous);
    covered_wal_sequence_ = previous_covered;
    return st;
  }
  MaybeCrash("after_manifest");
  RIFFLE_RETURN_IF_ERROR(Publish(/*drop_frozen=*/true));
  snapshot_in_progress_ = false;
  MaybeCrash("before_wal_delete");
  wal_->DeleteThrough(wal_sequence, options_.wal_files_to_keep);
  int64_t rows = 0;
  for (const auto& a : added) rows += a.rows;
  log::Info("snapshot: " + std::to_string(rows) + " rows in " + std::to_string(added.size()) +
            " Parquet files, WAL up to " + std::to_string(wal_sequence) + " persisted in " +
            std::to_string((NowNanos() - started) / 1000000) + " ms (writes went on meanwhile)");
  return Status::Ok();
}

Status Persister::Prune(bool expired_too) {
  if (options_.root_dir.empty()) return Status::Ok();
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
    bool expired = expired_too && db != dbs.end() && db->second->retention_ns && f.max_time < now - *db->second->retention_ns;
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
  log::Info("removed " + std::to_string(dropped.size()) + " Parquet files of deleted tables or expired data");
  return Status::Ok();
}

Result<query::VirtualTable> Persister::ParquetFilesTable(const std::string& db_name) {
  using CT = catalog::ColumnType;
  query::VirtualTable vt;
  vt.columns = {{"table_name", CT::kString}, {"path", CT::kString},     {"size_bytes", CT::kUInt64},
                {"row_count", CT::kUInt64},  {"min_time", CT::kInt64}, {"max_time", CT::kInt64}};
  auto state = catalog_->State();
  const catalog::Database* db = state->FindDatabase(db_name);
  if (!db) return vt;
  std::map<uint32_t, std::string> names;
  for (const auto& [tname, t] : db->tables) names[t->id] = tname;
  std::lock_guard lock(mu_);
  for (const auto& f : files_) {
    if (f.db_id != db->id || !names.count(f.table_id)) continue;
    vt.rows.push_back({names[f.table_id], f.path, static_cast<uint64_t>(f.size_bytes), static_cast<uint64_t>(f.rows),
                       f.min_time, f.max_time});
  }
  return vt;
}

}  // namespace riffle::persist
