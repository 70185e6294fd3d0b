// Server metrics in Prometheus text: counters and latency histograms with labels, registered
// once by name and updated from any thread without locks on the hot path, plus collectors
// that report values computed when /metrics is read (gauges such as bytes held).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace riffle::metrics {

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Seconds, in the buckets Prometheus clients use by default (5 ms … 10 s) plus 0.5 and 1 ms.
class Histogram {
 public:
  static constexpr std::array<double, 13> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
  void Observe(double seconds);
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // the last: +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// A metric family: one series per label values, created on first use and kept for good. A
// family registers itself with Render() when built, so it must live as long as the process.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names);
  Metric& With(const std::vector<std::string>& label_values);
  void Render(std::string* out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

using CounterFamily = Family<Counter>;
using HistogramFamily = Family<Histogram>;

// The families Riffle reports, one instance for the process.
struct ServerMetrics {
  CounterFamily http_requests{
      "riffle_http_requests_total", "HTTP requests by route and status", {"route", "status"}};
  HistogramFamily http_duration{"riffle_http_request_duration_seconds",
                                "Time from a request's arrival to its response headers",
                                {"route"}};
  CounterFamily lines_written{
      "riffle_lines_written_total", "Line-protocol lines written, by database", {"db"}};
  CounterFamily bytes_written{
      "riffle_write_bytes_total", "Line-protocol bytes received, by database", {"db"}};
  CounterFamily lines_rejected{
      "riffle_lines_rejected_total", "Line-protocol lines rejected, by database", {"db"}};
  HistogramFamily wal_flush_duration{
      "riffle_wal_flush_duration_seconds", "Time to write and sync one WAL file", {}};
  CounterFamily wal_flush_bytes{"riffle_wal_flush_bytes_total", "Bytes of WAL files written", {}};
  CounterFamily wal_flushes{"riffle_wal_flushes_total", "WAL flushes by outcome", {"outcome"}};
  HistogramFamily snapshot_duration{
      "riffle_snapshot_duration_seconds", "Time to persist one snapshot", {}};
  CounterFamily buffer_checkpoints{"riffle_buffer_checkpoints_total",
                                   "Checkpoints that compress the buffer's rows, run or put off "
                                   "while scans of its tables ran",
                                   {"outcome"}};
  HistogramFamily compaction_duration{
      "riffle_compaction_duration_seconds", "Time to merge one day's files", {}};
  CounterFamily queries{
      "riffle_queries_total", "Queries by language and outcome", {"language", "outcome"}};
  HistogramFamily query_duration{"riffle_query_duration_seconds",
                                 "Time from a query's arrival to its first batch of rows",
                                 {"language"}};
  CounterFamily flight_calls{
      "riffle_flight_calls_total", "Arrow Flight calls by method and gRPC status", {"method", "code"}};
};
ServerMetrics& Server();

// Counts a query (HTTP or Flight) by language and outcome, with its time to the first batch.
void CountQuery(const char* language, bool ok, std::chrono::steady_clock::time_point started);

// Adds Prometheus text computed when /metrics is read (gauges).
void AddCollector(std::function<void(std::string* out)> collector);
// Every family, every collector, and the process metrics (RSS, CPU, open files, start time).
std::string Render();

// A label value escaped for the Prometheus text format (\\, \" and \n).
std::string EscapeLabel(const std::string& value);

// A gauge line with its HELP and TYPE, for collectors.
void Gauge(const std::string& name, const std::string& help,
           const std::vector<std::pair<std::string, double>>& labelled_values, std::string* out,
           const std::string& label_name = "");

}  // namespace riffle::metrics
