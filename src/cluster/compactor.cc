// The cluster's compactor: merges the ingest nodes' Parquet files (see cluster.h).
#include <algorithm>
#include <cstdlib>
#include <set>

#include "cluster/cluster.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "persist/manifest.h"

namespace riffle::cluster {
namespace {

// How old an unlisted merged file must be before it counts as an orphan.
constexpr int64_t kOrphanAgeNs = 3'600'000'000'000;

}  // namespace

Compactor::Compactor(CompactorOptions options, objstore::ObjectStore* store,
                     objstore::LocalFiles* files, catalog::Catalog* catalog,
                     buffer::Buffer* buffer)
    : options_(std::move(options)),
      store_(store),
      files_(files),
      catalog_(catalog),
      buffer_(buffer) {
  if (!options_.node.registered_ns) options_.node.registered_ns = NowNanos();
}

void Compactor::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(thread_mu_);
    while (!thread_cv_.wait_for(lock, options_.interval, [this] { return stopping_; })) {
      lock.unlock();
      if (Status st = Round(); !st.ok())
        log::Warn("compactor: the check failed (retrying): " + st.message());
      lock.lock();
    }
  });
}

void Compactor::Stop() {
  {
    std::lock_guard lock(thread_mu_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Compactor::Active(const std::vector<NodeInfo>& nodes) {
  // Recent: within three intervals (and 10 s of clock difference between machines).
  int64_t stale_before = options_.node.heartbeat_ns -
                         3 * std::chrono::nanoseconds(options_.interval).count() - 10'000'000'000;
  std::string chosen = options_.node.node_id;
  for (const auto& n : nodes)
    if (n.modes.count("compact") && n.heartbeat_ns >= stale_before && n.node_id < chosen)
      chosen = n.node_id;
  bool active = chosen == options_.node.node_id;
  if (static_cast<int>(active) != was_active_)
    log::Info(active ? "compactor: this node compacts the cluster's files"
                     : "compactor: standing by; node " + chosen + " compacts the cluster's files");
  was_active_ = static_cast<int>(active);
  return active;
}

Status Compactor::Round() {
  options_.node.heartbeat_ns = NowNanos();
  RIFFLE_RETURN_IF_ERROR(RegisterNode(store_, options_.cluster_id, options_.node));
  auto nodes = ListNodes(store_, options_.cluster_id);
  if (!nodes.ok()) return nodes.status();
  if (!Active(*nodes)) return Status::Ok();
  RIFFLE_RETURN_IF_ERROR(catalog_->Refresh());
  Status failed;
  for (const auto& n : *nodes) {
    if (!n.modes.count("ingest")) continue;
    if (Status st = CompactNode(n.node_id); !st.ok()) {
      log::Warn("compactor: node " + n.node_id + ": " + st.message());
      failed = st;
    }
  }
  return failed;
}

Status Compactor::CompactNode(const std::string& node) {
  // One merge waiting at a time: the next plan must see the manifest that adopted it.
  auto pending = store_->List(persist::CompactionRecordsPrefix(options_.cluster_id, node));
  if (!pending.ok()) return pending.status();
  if (!pending->empty()) return Status::Ok();
  RIFFLE_ASSIGN_OR_RETURN(auto newest, persist::ReadNewestManifest(store_, node));
  if (!newest) return Status::Ok();
  const std::vector<persist::ParquetFileInfo>& listed = newest->manifest.files;
  // Merged files that were never recorded (a compactor stopped between the merge and the
  // record): with no record pending and the newest manifest read after that listing, an old
  // one that the manifest does not name is no one's. Not a recent one: the node deletes the
  // files it stopped listing itself, once no query of its own reads them.
  std::string compacted = options_.cluster_id + "/compacted/" + node + "/";
  auto outputs = store_->List(compacted);
  if (!outputs.ok()) return outputs.status();
  std::set<std::string> names;
  for (const auto& f : listed) names.insert(f.path);
  int64_t old_before = NowNanos() - kOrphanAgeNs;
  for (const auto& key : *outputs) {
    size_t at = key.rfind("/c");
    int64_t created = at == std::string::npos ? 0 : std::strtoll(key.c_str() + at + 2, nullptr, 10);
    if (names.count(key) || created > old_before) continue;
    if (files_->Remove(key).ok())
      log::Info("compactor: removed " + key + ", which no manifest of node " + node + " lists");
  }

  auto group = persist::PlanCompaction(listed, options_.min_files, NowNanos());
  if (group.empty()) return Status::Ok();
  int64_t started = NowNanos();
  std::string day = FormatTimestampNanos(group[0].min_time).substr(0, 10);
  char name[48];
  std::snprintf(name, sizeof name, "c%020lld.parquet", static_cast<long long>(started));
  std::string key = compacted + "dbs/" + std::to_string(group[0].db_id) + "/" +
                    std::to_string(group[0].table_id) + "/" + day + "/" + name;
  auto merged = persist::MergeFiles(*catalog_->State(), buffer_, files_, group, key);
  if (!merged.ok() && merged.status().code() == Code::kNotFound) return Status::Ok();
  if (!merged.ok()) return merged.status();
  persist::MaybeCrash("after_cluster_compact_parquet");
  persist::CompactionRecord record{{}, *merged};
  for (const auto& f : group) record.inputs.push_back(f.path);
  char record_name[32];
  std::snprintf(record_name, sizeof record_name, "%020lld.json", static_cast<long long>(started));
  RIFFLE_RETURN_IF_ERROR(
      store_->Put(persist::CompactionRecordsPrefix(options_.cluster_id, node) + record_name,
                  persist::SerializeCompactionRecord(record)));
  metrics::Server().compaction_duration.With({}).Observe(static_cast<double>(NowNanos() - started) /
                                                         1e9);
  log::Info("compactor: merged " + std::to_string(group.size()) + " Parquet files of node " +
            node + " (" + std::to_string(merged->rows) + " rows of " + day + ") into " + key);
  return Status::Ok();
}

}  // namespace riffle::cluster
