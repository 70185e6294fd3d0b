#include "persist/manifest.h"

#include <signal.h>

#include <nlohmann/json.hpp>

#include "common/checksummed.h"
#include "common/fault.h"
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

json RowDeleteJson(const RowDeleteRecord& r) {
  json tags = json::array();
  for (const auto& [tag, value] : r.request.tags) tags.push_back({tag, value});
  return {{"sequence", r.request.sequence},
          {"db_id", r.db_id},
          {"db_name", r.db_name},
          {"table_id", r.request.table_id},
          {"table_name", r.request.table_name},
          {"min_time", r.request.min_time},
          {"max_time", r.request.max_time},
          {"tags", std::move(tags)},
          {"predicate", r.request.predicate},
          {"created_ns", r.request.created_ns},
          {"completed_ns", r.completed_ns},
          {"rows_deleted", r.rows_deleted},
          {"files_rewritten", r.files_rewritten},
          {"files_removed", r.files_removed}};
}

RowDeleteRecord RowDeleteFromJson(const json& j) {
  RowDeleteRecord r;
  r.db_id = j.at("db_id");
  r.db_name = j.at("db_name");
  r.request.sequence = j.at("sequence");
  r.request.table_id = j.at("table_id");
  r.request.table_name = j.at("table_name");
  r.request.min_time = j.at("min_time");
  r.request.max_time = j.at("max_time");
  for (const auto& t : j.at("tags")) r.request.tags.emplace_back(t.at(0), t.at(1));
  r.request.predicate = j.at("predicate");
  r.request.created_ns = j.at("created_ns");
  r.completed = true;
  r.completed_ns = j.at("completed_ns");
  r.rows_deleted = j.at("rows_deleted");
  r.files_rewritten = j.at("files_rewritten");
  r.files_removed = j.at("files_removed");
  return r;
}
}  // namespace

void MaybeCrash(const char* point) {
  if (fault::Injected(point)) {
    log::Error(std::string("RIFFLE_FAULT: crashing at ") + point);
    ::raise(SIGKILL);
  }
}

std::string SerializeManifest(uint64_t wal_seq, const std::vector<ParquetFileInfo>& files,
                              const buffer::DuplicateRanges& duplicates,
                              const std::vector<RowDeleteRecord>& row_deletes) {
  json j = {{"wal_sequence", wal_seq}, {"files", json::array()}};
  for (const auto& f : files) j["files"].push_back(FileJson(f));
  // Older manifests have no such key: their tables were written before repeats were merged.
  json ranges = json::object();
  for (const auto& [table_id, list] : duplicates) {
    json& out = ranges[std::to_string(table_id)] = json::array();
    for (const auto& r : list) out.push_back({r.lo, r.hi});
  }
  j["duplicate_ranges"] = std::move(ranges);
  json deletes = json::array();
  for (const auto& r : row_deletes)
    if (r.completed) deletes.push_back(RowDeleteJson(r));
  j["row_deletes"] = std::move(deletes);
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
    if (j.contains("row_deletes"))
      for (const auto& r : j.at("row_deletes")) m.row_deletes.push_back(RowDeleteFromJson(r));
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
