#include "plugin/run_history.h"

#include <cstdio>

#include "common/metrics.h"

namespace riffle::plugin {

void RunHistory::Record(RunRecord run) {
  std::lock_guard lock(mu_);
  Series& s = series_[{run.database, run.trigger}];
  ++s.outcomes[run.outcome];
  double seconds = static_cast<double>(run.end_ns - run.start_ns) / 1e9;
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++s.buckets[i];
  ++s.count;
  s.sum_seconds += seconds;
  s.rows_in += static_cast<uint64_t>(run.rows_in);
  s.lines_written += static_cast<uint64_t>(run.lines_written);
  runs_.push_back(std::move(run));
  while (runs_.size() > capacity_) runs_.pop_front();
}

void RunHistory::Forget(const std::string& database, const std::string& trigger) {
  std::lock_guard lock(mu_);
  series_.erase({database, trigger});
}

query::VirtualTable RunHistory::Table(const std::string& database) const {
  using CT = catalog::ColumnType;
  query::VirtualTable vt;
  vt.columns = {{"trigger_name", CT::kString}, {"kind", CT::kString},
                {"start_time", CT::kTime},     {"end_time", CT::kTime},
                {"duration_ns", CT::kInt64},   {"outcome", CT::kString},
                {"error", CT::kString},        {"rows_in", CT::kInt64},
                {"lines_written", CT::kInt64}, {"attempt", CT::kInt64}};
  std::lock_guard lock(mu_);
  for (const auto& r : runs_) {
    if (r.database != database) continue;
    vt.rows.push_back({r.trigger, r.kind, query::Timestamp{r.start_ns}, query::Timestamp{r.end_ns},
                       r.end_ns - r.start_ns, r.outcome,
                       r.error.empty() ? query::Value{} : query::Value{r.error}, r.rows_in,
                       r.lines_written, int64_t{r.attempt}});
  }
  return vt;
}

namespace {

std::string TriggerLabels(const std::pair<std::string, std::string>& key) {
  return "database=\"" + metrics::EscapeLabel(key.first) + "\",trigger=\"" +
         metrics::EscapeLabel(key.second) + "\"";
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

std::string RunHistory::Prometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP riffle_plugin_runs_total Plugin runs by outcome (success, error, timeout).\n";
  out += "# TYPE riffle_plugin_runs_total counter\n";
  for (const auto& [key, s] : series_)
    for (const auto& [outcome, n] : s.outcomes)
      out += "riffle_plugin_runs_total{" + TriggerLabels(key) + ",outcome=\"" +
             metrics::EscapeLabel(outcome) + "\"} " + std::to_string(n) + "\n";
  out += "# HELP riffle_plugin_run_duration_seconds Plugin run latency.\n";
  out += "# TYPE riffle_plugin_run_duration_seconds histogram\n";
  for (const auto& [key, s] : series_) {
    std::string labels = TriggerLabels(key);
    for (size_t i = 0; i < kBuckets.size(); ++i)
      out += "riffle_plugin_run_duration_seconds_bucket{" + labels + ",le=\"" +
             Number(kBuckets[i]) + "\"} " + std::to_string(s.buckets[i]) + "\n";
    out += "riffle_plugin_run_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
           std::to_string(s.count) + "\n";
    out += "riffle_plugin_run_duration_seconds_sum{" + labels + "} " + Number(s.sum_seconds) + "\n";
    out += "riffle_plugin_run_duration_seconds_count{" + labels + "} " + std::to_string(s.count) +
           "\n";
  }
  out += "# HELP riffle_plugin_rows_in_total WAL rows handed to plugins.\n";
  out += "# TYPE riffle_plugin_rows_in_total counter\n";
  for (const auto& [key, s] : series_)
    out += "riffle_plugin_rows_in_total{" + TriggerLabels(key) + "} " + std::to_string(s.rows_in) +
           "\n";
  out += "# HELP riffle_plugin_lines_written_total Lines written by plugins.\n";
  out += "# TYPE riffle_plugin_lines_written_total counter\n";
  for (const auto& [key, s] : series_)
    out += "riffle_plugin_lines_written_total{" + TriggerLabels(key) + "} " +
           std::to_string(s.lines_written) + "\n";
  return out;
}

}  // namespace riffle::plugin
