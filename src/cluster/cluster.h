// cluster: several `serve` processes over one object store (InfluxDB 3 Enterprise's
// --cluster-id and --mode). Each node writes only its own keys ({node}/wal, {node}/snapshots,
// {node}/dbs); the catalog and tokens live under {cluster}/ and every node writes them with
// create-only puts. A node registers itself under {cluster}/nodes/ so the others find it.
//
// What is consistent and what is eventual:
//   - a write is acknowledged by the ingest node that took it once its WAL file is in the store;
//   - a query node reads the ingest nodes' new WAL files and snapshot manifests every
//     --replication-interval (1 s), so it sees an acknowledged write within about two intervals;
//   - catalog and token changes made on one node are seen by the others within an interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/token_store.h"
#include "buffer/buffer.h"
#include "catalog/catalog.h"
#include "objstore/local_files.h"
#include "objstore/object_store.h"
#include "persist/persister.h"
#include "query/query.h"
#include "wal/wal.h"

namespace riffle::cluster {

struct NodeInfo {
  std::string node_id;
  std::set<std::string> modes;  // ingest, query, compact, process
  int64_t registered_ns = 0;
  int64_t heartbeat_ns = 0;  // a compact node's last check (see Compactor); 0 for the others
};

// {cluster}/nodes/{node}.json
Status RegisterNode(objstore::ObjectStore* store, const std::string& cluster_id,
                    const NodeInfo& node);
Result<std::vector<NodeInfo>> ListNodes(objstore::ObjectStore* store,
                                        const std::string& cluster_id);

struct FollowerOptions {
  std::string cluster_id;
  std::string node_id;
  std::chrono::milliseconds interval{1000};
  // A query node without ingest: serve the ingest nodes' data (their WAL and snapshots).
  bool replicate = false;
};

// The catch-up loop of a cluster node: catalog and tokens for every node, the other nodes'
// data for a query node.
class Follower {
 public:
  Follower(FollowerOptions options, objstore::ObjectStore* store, objstore::LocalFiles* files,
           catalog::Catalog* catalog, auth::TokenStore* tokens, buffer::Buffer* buffer,
           query::FileReaders* readers);
  ~Follower() { Stop(); }

  // Called with the rows of the other nodes' WAL files as they are read (not those of the
  // first round, which were written before this node started).
  void OnNewWrites(std::function<void(const std::vector<wal::WriteOpPtr>&)> listener) {
    on_new_writes_ = std::move(listener);
  }
  // One round; Start() runs them every interval.
  Status CatchUp();
  void Start();
  void Stop();

  // system.parquet_files of the replicated nodes.
  query::VirtualTable ParquetFilesTable(const std::string& db);

 private:
  // What this node holds of one ingest node.
  struct Source {
    std::string manifest_key;    // the newest manifest applied
    uint64_t covered = 0;        // WAL sequences its files cover
    uint64_t last_sequence = 0;  // newest WAL file read
    std::vector<persist::ParquetFileInfo> files;
    buffer::DuplicateRanges duplicates;
    std::map<uint64_t, std::vector<wal::WriteOpPtr>> wal;  // unpersisted WAL files, by sequence
  };
  // Reads a node's newest manifest (true when it changed) and its WAL files past what is held.
  Result<bool> ReadManifest(const std::string& node, Source& source);
  // Reads the WAL files after the newest one held, in sequence order, never past a gap that a
  // newer manifest does not cover (`*rebuild` is set when that manifest had to be read).
  Status ReadWal(const std::string& node, Source& source, std::vector<wal::WriteOpPtr>* fresh,
                 bool* rebuild);
  Status Rebuild();
  void Loop();

  FollowerOptions options_;
  objstore::ObjectStore* store_;
  objstore::LocalFiles* files_;
  catalog::Catalog* catalog_;
  auth::TokenStore* tokens_;
  buffer::Buffer* buffer_;
  query::FileReaders* readers_;

  std::function<void(const std::vector<wal::WriteOpPtr>&)> on_new_writes_;
  bool first_round_ = true;
  bool pending_rebuild_ = false;           // rows were read that the buffer may not hold
  std::mutex round_mu_;                    // one round at a time
  std::mutex mu_;                          // guards sources_ for system tables
  std::map<std::string, Source> sources_;  // by node id
  struct Retired {
    uint64_t publish;
    std::string key;
  };
  std::vector<Retired> retired_;  // local copies no view lists any more
  std::set<std::string> held_;    // keys of the files the views list

  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

struct CompactorOptions {
  std::string cluster_id;
  NodeInfo node;                              // this node, re-registered with each heartbeat
  std::chrono::milliseconds interval{10000};  // --compaction-check-interval
  size_t min_files = 8;                       // --compaction-min-files
};

// The cluster's compactor (a node with the compact mode). Every interval it records a
// heartbeat in its node record; of the compact nodes whose heartbeat is recent, the one with
// the smallest node id compacts and the others stand by (and take over when it stops). For
// each ingest node with no merge waiting to be adopted, it plans one merge on the node's
// newest manifest (persist::PlanCompaction), writes the merged file under
// {cluster}/compacted/{node}/ and records it (persist::CompactionRecord); the ingest node
// adopts it into its own manifest, so each manifest keeps exactly one writer.
class Compactor {
 public:
  Compactor(CompactorOptions options, objstore::ObjectStore* store, objstore::LocalFiles* files,
            catalog::Catalog* catalog, buffer::Buffer* buffer);
  ~Compactor() { Stop(); }

  // One check; Start() runs one every interval.
  Status Round();
  void Start();
  void Stop();

 private:
  // Whether this node is the one that compacts now, among the registered `nodes` (its own
  // heartbeat just recorded).
  bool Active(const std::vector<NodeInfo>& nodes);
  Status CompactNode(const std::string& node);

  CompactorOptions options_;
  objstore::ObjectStore* store_;
  objstore::LocalFiles* files_;
  catalog::Catalog* catalog_;
  buffer::Buffer* buffer_;
  int was_active_ = -1;  // the last answer of Active(), for its log line (-1: none yet)

  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace riffle::cluster
