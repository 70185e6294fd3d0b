// Snapshot manifests ({node}/snapshots/{n}.json): the Parquet files that hold persisted rows,
// the last WAL file they cover and where tables may hold repeated points; CRC-sealed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "buffer/persisted.h"
#include "common/status.h"
#include "persist/persister.h"

namespace riffle::persist {

struct Manifest {
  uint64_t wal_sequence = 0;
  std::vector<ParquetFileInfo> files;
  buffer::DuplicateRanges duplicates;
};

std::string SerializeManifest(uint64_t wal_seq, const std::vector<ParquetFileInfo>& files,
                              const buffer::DuplicateRanges& duplicates);
Result<Manifest> ParseManifest(const std::string& contents);

// Test hook: RIFFLE_FAULT=<point> kills the process at that point of a snapshot or a
// compaction, so the end-to-end suite can prove that no crash window loses acknowledged data.
void MaybeCrash(const char* point);

}  // namespace riffle::persist
