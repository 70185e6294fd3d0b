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
constexpr const char* kCompactionMagic = "riffle-compaction v1";

json FileJson(const ParquetFileInfo& f) {
  return {{"db_id", f.db_id},           {"table_id", f.table_id}, {"path", f.path},
          {"size_bytes", f.size_bytes}, {"rows", f.rows},         {"min_time", f.min_time},
          {"max_time", f.max_time}};
}

ParquetFileInfo FileFromJson(const json& f) {
  return {f.at("db_id"), f.at("table_id"), f.at("path"),    f.at("size_bytes"),
          f.at("rows"),  f.at("min_time"), f.at("max_time")};
}
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
  for (const auto& f : files) j["files"].push_back(FileJson(f));
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
    for (const auto& f : j.at("files")) m.files.push_back(FileFromJson(f));
    if (j.contains("duplicate_ranges"))
      for (const auto& [table_id, list] : j.at("duplicate_ranges").items())
        for (const auto& r : list)
          m.duplicates[static_cast<uint32_t>(std::stoul(table_id))].push_back({r.at(0), r.at(1)});
    return m;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("snapshot manifest is not valid: ") + e.what());
  }
}

Result<std::optional<NamedManifest>> ReadNewestManifest(objstore::ObjectStore* store,
                                                        const std::string& node) {
  auto keys = store->List(node + "/snapshots/");
  if (!keys.ok()) return keys.status();
  for (auto it = keys->rbegin(); it != keys->rend(); ++it) {
    auto contents = store->Get(*it);
    if (!contents.ok()) continue;  // replaced meanwhile: an older one, or the caller's next try
    auto manifest = ParseManifest(*contents);
    if (!manifest.ok()) {
      log::Error("skipping snapshot manifest " + *it + ": " + manifest.status().message());
      continue;
    }
    return std::optional<NamedManifest>(
        NamedManifest{*it, std::move(manifest).value(), it == keys->rbegin()});
  }
  return std::optional<NamedManifest>();
}

std::string CompactionRecordsPrefix(const std::string& cluster_id, const std::string& node) {
  return cluster_id + "/compactions/" + node + "/";
}

std::string SerializeCompactionRecord(const CompactionRecord& record) {
  json j = {{"inputs", record.inputs}, {"output", FileJson(record.output)}};
  return SealWithChecksum(kCompactionMagic, j.dump());
}

Result<CompactionRecord> ParseCompactionRecord(const std::string& contents) {
  auto body = OpenChecksummed(kCompactionMagic, contents, "compaction record");
  if (!body.ok()) return body.status();
  try {
    json j = json::parse(*body);
    return CompactionRecord{j.at("inputs").get<std::vector<std::string>>(),
                            FileFromJson(j.at("output"))};
  } catch (const std::exception& e) {
    return Status::IOError(std::string("compaction record is not valid: ") + e.what());
  }
}

}  // namespace riffle::persist
