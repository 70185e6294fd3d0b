// Cost the write path pays to find repeated points (buffer/duplicates.h): the series hash of a
// TSBS cpu line (10 tags) and the per-series newest-time check, in ns per line.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "lineproto/line_protocol.h"
#include "buffer/duplicates.h"

namespace {

std::string TsbsBatch(int lines, int hosts) {
  std::string body;
  for (int i = 0; i < lines; ++i) {
    int h = i % hosts;
    body += "cpu,hostname=host_" + std::to_string(h) +
            ",region=us-west-2,datacenter=us-west-2a,rack=" + std::to_string(h % 100) +
            ",os=Ubuntu16.04LTS,arch=x64,team=SF,service=" + std::to_string(h % 20) +
            ",service_version=1,service_environment=production usage_user=58.1 " +
            std::to_string(1451606400000000000LL + (i / hosts) * 10'000'000'000LL) + "\n";
  }
  return body;
}

void BM_TrackTsbsLines(benchmark::State& state) {
  const int hosts = static_cast<int>(state.range(0));
  std::string body = TsbsBatch(100'000, hosts);
  auto batch = riffle::lineproto::Parse(body);
  int64_t round = 0;
  riffle::buffer::DuplicateTracker tracker;
  for (auto _ : state) {
    // Every round is newer than the last, as live data is: nothing is flagged.
    int64_t shift = round++ * 1'000'000'000'000'000LL / 1000;
    for (const auto& line : batch.lines) {
      uint64_t series = riffle::buffer::SeriesHash(batch.tags_of(line), line.tag_count);
      benchmark::DoNotOptimize(tracker.Observe(series, *line.timestamp + shift, round));
    }
  }
  if (!tracker.ranges().empty()) state.SkipWithError("in-order data was flagged as repeated");
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch.lines.size()));
}
BENCHMARK(BM_TrackTsbsLines)->Arg(1000)->Arg(100'000);

}  // namespace

BENCHMARK_MAIN();
