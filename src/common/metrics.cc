#include "common/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "common/allocator.h"

namespace riffle::metrics {

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

namespace {

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string Labels(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i)
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + EscapeLabel(values[i]) + "\"";
  return out;
}

std::mutex collectors_mu;
std::vector<std::function<void(std::string*)>>& Collectors() {
  static std::vector<std::function<void(std::string*)>> collectors;
  return collectors;
}

const double kStartSeconds =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

void ProcessMetrics(std::string* out) {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
               (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  size_t fds = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  *out +=
      "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
      "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes " +
      Number(static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE))) + "\n";
  *out +=
      "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
      "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total " +
      Number(cpu) + "\n";
  *out +=
      "# HELP process_open_fds Number of open file descriptors.\n# TYPE process_open_fds "
      "gauge\nprocess_open_fds " +
      std::to_string(fds) + "\n";
  *out +=
      "# HELP process_start_time_seconds Start time of the process since the Unix epoch in "
      "seconds.\n"
      "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds " +
      Number(std::floor(kStartSeconds)) + "\n";
  if (auto heap = allocator::Current())
    Gauge("riffle_allocator_bytes",
          "Memory of the server's allocator (" + heap->name +
              "): allocated (held by the program), active (its pages), resident (in memory, the "
              "allocator's own included), retained (returned to the kernel, address space kept).",
          {{"allocated", static_cast<double>(heap->allocated)},
           {"active", static_cast<double>(heap->active)},
           {"resident", static_cast<double>(heap->resident)},
           {"retained", static_cast<double>(heap->retained)}},
          out, "kind");
}

}  // namespace

void Histogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e9), std::memory_order_relaxed);
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  uint64_t cumulative = 0;
  std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string le = i < kBounds.size() ? Number(kBounds[i]) : "+Inf";
    *out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) +
            "\n";
  }
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  *out +=
      name + "_sum" + braces + " " + Number(sum_ns_.load(std::memory_order_relaxed) / 1e9) + "\n";
  *out += name + "_count" + braces + " " + std::to_string(count_.load(std::memory_order_relaxed)) +
          "\n";
}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
  AddCollector([this](std::string* out) { Render(out); });
}

template <typename Metric>
Metric& Family<Metric>::With(const std::vector<std::string>& label_values) {
  std::lock_guard lock(mu_);
  auto& slot = series_[label_values];
  if (!slot) slot = std::make_unique<Metric>();
  return *slot;
}

template <typename Metric>
void Family<Metric>::Render(std::string* out) const {
  std::lock_guard lock(mu_);
  constexpr bool kCounter = std::is_same_v<Metric, Counter>;
  *out += "# HELP " + name_ + " " + help_ + "\n# TYPE " + name_ +
          (kCounter ? " counter\n" : " histogram\n");
  for (const auto& [values, metric] : series_) {
    std::string labels = Labels(label_names_, values);
    if constexpr (kCounter)
      *out += name_ + (labels.empty() ? "" : "{" + labels + "}") + " " +
              std::to_string(metric->value()) + "\n";
    else
      metric->Render(name_, labels, out);
  }
}

template class Family<Counter>;
template class Family<Histogram>;

ServerMetrics& Server() {
  static ServerMetrics metrics;
  return metrics;
}

void AddCollector(std::function<void(std::string* out)> collector) {
  std::lock_guard lock(collectors_mu);
  Collectors().push_back(std::move(collector));
}

void Gauge(const std::string& name, const std::string& help,
           const std::vector<std::pair<std::string, double>>& labelled_values, std::string* out,
           const std::string& label_name) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n";
  for (const auto& [label, value] : labelled_values)
    *out += name +
            (label_name.empty() ? "" : "{" + label_name + "=\"" + EscapeLabel(label) + "\"}") +
            " " + Number(value) + "\n";
}

std::string Render() {
  std::string out;
  Server();  // its families register themselves when it is first built
  {
    std::lock_guard lock(collectors_mu);
    for (const auto& c : Collectors()) c(&out);
  }
  ProcessMetrics(&out);
  return out;
}

void CountQuery(const char* language, bool ok, std::chrono::steady_clock::time_point started) {
  auto& m = Server();
  m.queries.With({language, ok ? "ok" : "error"}).Add();
  if (ok)
    m.query_duration.With({language})
        .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

}  // namespace riffle::metrics
