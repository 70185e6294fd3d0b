// Snapshot manifests ({node}/snapshots/{n}.json): the Parquet files that hold persisted rows,
// the last WAL file they cover and where tables may hold repeated points; CRC-sealed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "buffer/persisted.h"
#include "common/status.h"
#include "objstore/object_store.h"
#include "persist/persister.h"

namespace riffle::persist {

struct Manifest {
  uint64_t wal_sequence = 0;
  std::vector<ParquetFileInfo> files;
  buffer::DuplicateRanges duplicates;
  std::vector<RowDeleteRecord> row_deletes;  // completed ones, oldest first
};

std::string SerializeManifest(uint64_t wal_seq, const std::vector<ParquetFileInfo>& files,
                              const buffer::DuplicateRanges& duplicates,
                              const std::vector<RowDeleteRecord>& row_deletes = {});
Result<Manifest> ParseManifest(const std::string& contents);

// The newest manifest of `node` that reads back whole (older ones are kept as fallbacks while
// a newer one is written; damaged ones are logged and skipped); nullopt when the node has none.
struct NamedManifest {
  std::string key;
  Manifest manifest;
  bool newest = true;  // false: a newer version exists but is damaged
};
Result<std::optional<NamedManifest>> ReadNewestManifest(objstore::ObjectStore* store,
                                                        const std::string& node);

// A cluster's compactor merged `inputs` (files of `node`'s manifest) into `output`; the node
// that owns the files adopts it into its manifest, or deletes `output` if some input is gone.
// Kept at {cluster}/compactions/{node}/{n}.json until the owner has done either.
struct CompactionRecord {
  std::vector<std::string> inputs;
  ParquetFileInfo output;
};
std::string CompactionRecordsPrefix(const std::string& cluster_id, const std::string& node);
std::string SerializeCompactionRecord(const CompactionRecord& record);
Result<CompactionRecord> ParseCompactionRecord(const std::string& contents);

// Test hook: RIFFLE_FAULT=<point> kills the process at that point of a snapshot or a
// compaction, so the end-to-end suite can prove that no crash window loses acknowledged data.
void MaybeCrash(const char* point);

}  // namespace riffle::persist
