// Run history of plugin executions: the system.processing_engine_runs ring and the per-trigger
// counters and latency histograms behind /metrics.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "query/query.h"

namespace riffle::plugin {

struct RunRecord {
  std::string database, trigger, kind;  // kind: wal | schedule | request
  int64_t start_ns = 0, end_ns = 0;
  std::string outcome;                  // success | error | timeout
  std::string error;                    // message and full Python traceback
  int64_t rows_in = 0;                  // WAL rows handed to the plugin
  int64_t lines_written = 0;            // lines the run wrote (buffered and sync writes)
  int attempt = 1;                      // > 1 for error-behavior retries
};

class RunHistory {
 public:
  explicit RunHistory(size_t capacity = 10000) : capacity_(capacity) {}

  void Record(RunRecord run);
  // The runs of one database's triggers, oldest first.
  query::VirtualTable Table(const std::string& database) const;
  // Prometheus text exposition (version 0.0.4) of every trigger's counters and histograms.
  std::string Prometheus() const;
  // Drops a deleted trigger's series.
  void Forget(const std::string& database, const std::string& trigger);

 private:
  static constexpr std::array<double, 11> kBuckets = {0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60};
  struct Series {
    std::map<std::string, uint64_t> outcomes;  // outcome → count
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum_seconds = 0;
    uint64_t rows_in = 0, lines_written = 0;
  };
  size_t capacity_;
  mutable std::mutex mu_;
  std::deque<RunRecord> runs_;
  std::map<std::pair<std::string, std::string>, Series> series_;  // (database, trigger)
};

}  // namespace riffle::plugin
