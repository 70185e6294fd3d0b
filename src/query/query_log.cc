#include "query/query_log.h"

#include "common/clock.h"

namespace riffle::query {

uint64_t QueryLog::Begin(const std::string& db, const std::string& text, int64_t issue_time_ns) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  running_[id] = {id, db, text, issue_time_ns, 0, false, false};
  return id;
}

void QueryLog::End(uint64_t id, int64_t duration_ns, bool success, bool cancelled) {
  std::lock_guard lock(mu_);
  auto it = running_.find(id);
  if (it == running_.end()) return;
  Entry e = std::move(it->second);
  running_.erase(it);
  e.duration_ns = duration_ns;
  e.success = success;
  e.cancelled = cancelled;
  entries_.push_back(std::move(e));
  while (entries_.size() > capacity_) entries_.pop_front();
}

VirtualTable QueryLog::Table(const std::string& db) const {
  using CT = catalog::ColumnType;
  VirtualTable vt;
  // InfluxDB's durations are Duration(ns); here they are Int64 nanoseconds.
  vt.columns = {{"id", CT::kString},           {"phase", CT::kString},          {"issue_time", CT::kTime},
                {"query_type", CT::kString},   {"query_text", CT::kString},     {"end2end_duration", CT::kInt64},
                {"success", CT::kBool},        {"running", CT::kBool},          {"cancelled", CT::kBool}};
  int64_t now = NowNanos();
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e.db != db) continue;
    vt.rows.push_back({std::to_string(e.id), std::string(e.success ? "success" : "fail"), Timestamp{e.issue_time_ns},
                       std::string("sql"), e.text, e.duration_ns, e.success, false, e.cancelled});
  }
  // Running queries (the one reading this table among them): their duration so far.
  for (const auto& [id, e] : running_) {
    if (e.db != db) continue;
    vt.rows.push_back({std::to_string(e.id), std::string("executing"), Timestamp{e.issue_time_ns},
                       std::string("sql"), e.text, now - e.issue_time_ns, false, true, false});
  }
  return vt;
}

}  // namespace riffle::query
