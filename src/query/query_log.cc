#include "query/query_log.h"

namespace riffle::query {

void QueryLog::Record(const std::string& db, const std::string& text, int64_t issue_time_ns, int64_t duration_ns,
                      bool success) {
  std::lock_guard lock(mu_);
  entries_.push_back({next_id_++, db, text, issue_time_ns, duration_ns, success});
  while (entries_.size() > capacity_) entries_.pop_front();
}

VirtualTable QueryLog::Table(const std::string& db) const {
  using CT = catalog::ColumnType;
  VirtualTable vt;
  // InfluxDB's durations are Duration(ns); here they are Int64 nanoseconds.
  vt.columns = {{"id", CT::kString},           {"phase", CT::kString},          {"issue_time", CT::kTime},
                {"query_type", CT::kString},   {"query_text", CT::kString},     {"end2end_duration", CT::kInt64},
                {"success", CT::kBool},        {"running", CT::kBool},          {"cancelled", CT::kBool}};
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e.db != db) continue;
    vt.rows.push_back({std::to_string(e.id), std::string(e.success ? "success" : "fail"), Timestamp{e.issue_time_ns},
                       std::string("sql"), e.text, e.duration_ns, e.success, false, false});
  }
  return vt;
}

}  // namespace riffle::query
