#include "persist/manifest.h"

#include <signal.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/checksummed.h"
#include "common/log.h"

namespace riffle::persist {

using nlohmann::json;

namespace {
constexpr const char* kMagic = "riffle-snapshot v1";
}  // namespace

void MaybeCrash(const char* point) {
  const char* fault = std::getenv("RIFFLE_FAULT");
  if (fault && std::string(fault) == point) {
    log::Error(std::string("RIFFLE_FAULT: crashing at ") + point);
    ::raise(SIGKILL);
  }
}

std::string SerializeManifest(uint64_t wal_seq, const std::vector<ParquetFileInfo>& files,
                              const buffer::DuplicateRanges& duplicates) {
  json j = {{"wal_sequence", wal_seq}, {"files", json::array()}};
  for (const auto& f : files)
    j["files"].push_back({{"db_id", f.db_id},
                          {"table_id", f.table_id},
                          {"path", f.path},
                          {"size_bytes", f.size_bytes},
                          {"rows", f.rows},
                          {"min_time", f.min_time},
                          {"max_time", f.max_time}});
  // Older manifests have no such key: their tables were written before repeats were merged.
  json ranges = json::object();
  for (const auto& [table_id, list] : duplicates) {
    json& out = ranges[std::to_string(table_id)] = json::array();
    for (const auto& r : list) out.push_back({r.lo, r.hi});
  }
  j["duplicate_ranges"] = std::move(ranges);
  return SealWithChecksum(kMagic, j.dump());
}

Result<Manifest> ParseManifest(const std::string& contents) {
  auto body = OpenChecksummed(kMagic, contents, "snapshot manifest");
  if (!body.ok()) return body.status();
  try {
    json j = json::parse(*body);
    Manifest m;
    m.wal_sequence = j.at("wal_sequence").get<uint64_t>();
    for (const auto& f : j.at("files"))
      m.files.push_back({f.at("db_id"), f.at("table_id"), f.at("path"), f.at("size_bytes"),
                         f.at("rows"), f.at("min_time"), f.at("max_time")});
    if (j.contains("duplicate_ranges"))
      for (const auto& [table_id, list] : j.at("duplicate_ranges").items())
        for (const auto& r : list)
          m.duplicates[static_cast<uint32_t>(std::stoul(table_id))].push_back({r.at(0), r.at(1)});
    return m;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("snapshot manifest is not valid: ") + e.what());
  }
}

}  // namespace riffle::persist
