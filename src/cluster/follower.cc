#include <algorithm>

#include "cluster/cluster.h"
#include "common/log.h"
#include "persist/manifest.h"

namespace riffle::cluster {

Follower::Follower(FollowerOptions options, objstore::ObjectStore* store,
                   objstore::LocalFiles* files, catalog::Catalog* catalog, auth::TokenStore* tokens,
                   buffer::Buffer* buffer, query::FileReaders* readers)
    : options_(std::move(options)),
      store_(store),
      files_(files),
      catalog_(catalog),
      tokens_(tokens),
      buffer_(buffer),
      readers_(readers) {}

void Follower::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Follower::Stop() {
  {
    std::lock_guard lock(thread_mu_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Follower::Loop() {
  std::unique_lock lock(thread_mu_);
  while (!thread_cv_.wait_for(lock, options_.interval, [this] { return stopping_; })) {
    lock.unlock();
    if (Status st = CatchUp(); !st.ok())
      log::Warn("cluster: catching up with the other nodes failed (retrying): " + st.message());
    lock.lock();
  }
}

Status Follower::CatchUp() {
  std::lock_guard round(round_mu_);
  RIFFLE_RETURN_IF_ERROR(catalog_->Refresh());
  if (tokens_) RIFFLE_RETURN_IF_ERROR(tokens_->Load());
  if (!options_.replicate) return Status::Ok();
  auto nodes = ListNodes(store_, options_.cluster_id);
  if (!nodes.ok()) return nodes.status();
  bool rebuild = false;
  std::vector<wal::WriteOpPtr> fresh;
  Status failed;
  for (const auto& node : *nodes) {
    if (node.node_id == options_.node_id || !node.modes.count("ingest")) continue;
    Source& source = sources_[node.node_id];
    // The manifest first: WAL files it covers may be deleted by the time they are listed.
    auto changed = ReadManifest(node.node_id, source);
    if (!changed.ok()) {
      failed = changed.status();
      continue;
    }
    rebuild = rebuild || *changed;
    if (Status st = ReadWal(node.node_id, source, &fresh, &rebuild); !st.ok()) failed = st;
  }
  // Each WAL file was written after the catalog change its rows need: catching up with the
  // catalog again now makes every table and column of `fresh` known. Rows read but not applied
  // (the store or the buffer failed) are applied by a rebuild in a later round.
  pending_rebuild_ = pending_rebuild_ || rebuild;
  Status applied = fresh.empty() ? Status::Ok() : catalog_->Refresh();
  if (applied.ok() && pending_rebuild_)
    applied = Rebuild();
  else if (applied.ok() && !fresh.empty())
    applied = buffer_->Append(*catalog_->State(), fresh);
  if (!applied.ok()) {
    pending_rebuild_ = true;
    return applied;
  }
  pending_rebuild_ = false;
  if (!fresh.empty() && on_new_writes_ && !first_round_) on_new_writes_(fresh);
  first_round_ = false;
  // Local copies of files no view lists any more, once no query that may read them runs.
  uint64_t oldest = readers_->OldestRunningQueryPublish();
  std::vector<Retired> kept;
  for (auto& r : retired_) {
    if (oldest < r.publish)
      kept.push_back(std::move(r));
    else
      files_->Forget(r.key);
  }
  retired_ = std::move(kept);
  return failed;
}

Result<bool> Follower::ReadManifest(const std::string& node, Source& source) {
  auto keys = store_->List(node + "/snapshots/");
  if (!keys.ok()) return keys.status();
  for (auto it = keys->rbegin(); it != keys->rend(); ++it) {
    if (*it == source.manifest_key) return false;
    if (*it < source.manifest_key) return false;
    auto contents = store_->Get(*it);
    if (!contents.ok()) continue;  // replaced meanwhile; an older one or the next round
    auto manifest = persist::ParseManifest(*contents);
    if (!manifest.ok()) {
      log::Warn("cluster: skipping manifest " + *it + ": " + manifest.status().message());
      continue;
    }
    std::lock_guard lock(mu_);
    source.manifest_key = *it;
    source.covered = manifest->wal_sequence;
    source.files = std::move(manifest->files);
    source.duplicates = std::move(manifest->duplicates);
    source.wal.erase(source.wal.begin(), source.wal.upper_bound(source.covered));
    source.last_sequence = std::max(source.last_sequence, source.covered);
    return true;
  }
  return false;
}

Status Follower::ReadWal(const std::string& node, Source& source,
                         std::vector<wal::WriteOpPtr>* fresh, bool* rebuild) {
  std::string prefix = node + "/wal/";
  auto keys = store_->List(prefix);
  if (!keys.ok()) return keys.status();
  for (const auto& key : *keys) {
    uint64_t sequence = std::strtoull(key.c_str() + prefix.size(), nullptr, 10);
    if (sequence <= source.last_sequence) continue;
    if (sequence != source.last_sequence + 1) {
      // The files in between are gone: the node snapshotted them and deleted them after the
      // manifest was read. Their rows are in its newer manifest, which must come first.
      auto changed = ReadManifest(node, source);
      if (!changed.ok()) return changed.status();
      *rebuild = *rebuild || *changed;
      if (sequence <= source.last_sequence) continue;
      if (sequence != source.last_sequence + 1) {
        log::Warn("cluster: WAL files of node " + node + " after " +
                  std::to_string(source.last_sequence) +
                  " are missing and no manifest covers them yet; waiting for them");
        return Status::Ok();
      }
    }
    auto contents = store_->Get(key);
    if (!contents.ok()) {
      if (contents.status().code() != Code::kNotFound) return contents.status();
      // Deleted since the listing: covered by a manifest the next round reads first.
      return Status::Ok();
    }
    uint64_t decoded_sequence = 0;
    auto ops = wal::DecodeWalFile(std::make_shared<const std::string>(std::move(*contents)),
                                  &decoded_sequence);
    if (!ops.ok()) {
      log::Warn("cluster: skipping WAL file " + key + ": " + ops.status().message());
    } else {
      fresh->insert(fresh->end(), ops->begin(), ops->end());
      std::lock_guard lock(mu_);
      source.wal[sequence] = std::move(ops).value();
    }
    source.last_sequence = sequence;
  }
  return Status::Ok();
}

Status Follower::Rebuild() {
  std::vector<wal::WriteOpPtr> ops;
  std::map<uint32_t, std::vector<buffer::PersistedFile>> by_table;
  buffer::DuplicateRanges duplicates;
  std::set<std::string> listed;
  {
    std::lock_guard lock(mu_);
    for (const auto& [node, source] : sources_) {
      for (const auto& [sequence, file_ops] : source.wal)
        ops.insert(ops.end(), file_ops.begin(), file_ops.end());
      for (const auto& f : source.files) {
        RIFFLE_ASSIGN_OR_RETURN(std::string path, files_->PathFor(f.path));
        by_table[f.table_id].push_back(
            {f.db_id, f.table_id, path, f.rows, f.min_time, f.max_time, f.path});
        listed.insert(f.path);
      }
      for (const auto& [table, ranges] : source.duplicates)
        duplicates[table].insert(duplicates[table].end(), ranges.begin(), ranges.end());
    }
  }
  RIFFLE_RETURN_IF_ERROR(buffer_->Replace(*catalog_->State(), ops, by_table, duplicates));
  // Copies that the new views no longer name go once the queries that may read them end.
  for (const auto& key : held_) {
    if (!listed.count(key)) retired_.push_back({buffer_->PublishCount(), key});
  }
  held_ = std::move(listed);
  return Status::Ok();
}

query::VirtualTable Follower::ParquetFilesTable(const std::string& db) {
  std::vector<persist::ParquetFileInfo> files;
  {
    std::lock_guard lock(mu_);
    for (const auto& [node, source] : sources_)
      files.insert(files.end(), source.files.begin(), source.files.end());
  }
  return persist::ParquetFilesTableOf(*catalog_->State(), db, files);
}

}  // namespace riffle::cluster
