// WAL file decode rate, what a restart's replay does per file before the buffer appends the rows:
// checksum, rebuild each write's line-protocol body, re-parse it. TSBS cpu-only shape (10 tags,
// 10 float fields), four writes of 5,000 lines per file as a busy server flushes them; in lines/s.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "wal/wal.h"

namespace {

std::string TsbsLines(int lines, int offset) {
  std::string body;
  for (int i = offset; i < offset + lines; ++i) {
    int h = i % 1000;
    body +=
        "cpu,hostname=host_" + std::to_string(h) +
        ",region=us-west-2,datacenter=us-west-2a,rack=" + std::to_string(h % 100) +
        ",os=Ubuntu16.04LTS,arch=x64,team=SF,service=" + std::to_string(h % 20) +
        ",service_version=1,service_environment=production "
        "usage_user=58.1317132,usage_system=2.6224297,"
        "usage_idle=24.9969198,usage_nice=61.8525925,usage_iowait=22.9656878,usage_irq=63.4214562,"
        "usage_softirq=6.1016519,usage_steal=44.9897062,usage_guest=80.5133001,usage_guest_nice=38."
        "2080978 " +
        std::to_string(1451606400000000000LL + i) + "\n";
  }
  return body;
}

void BM_DecodeTsbsWalFile(benchmark::State& state) {
  constexpr int kWrites = 4, kLines = 5000;
  std::vector<riffle::wal::WriteOpPtr> ops;
  for (int w = 0; w < kWrites; ++w) {
    auto op = std::make_shared<riffle::wal::WriteOp>();
    op->db_name = "bench";
    op->body = std::make_shared<const std::string>(TsbsLines(kLines, w * kLines));
    op->batch = riffle::lineproto::Parse(*op->body);
    for (const auto& line : op->batch.lines) op->times.push_back(*line.timestamp);
    ops.push_back(std::move(op));
  }
  std::string file = riffle::wal::EncodeWalFile(1, ops);
  for (auto _ : state) {
    auto decoded = riffle::wal::DecodeWalFile(file, nullptr);
    if (!decoded.ok() || decoded->size() != kWrites) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(decoded->data());
  }
  state.SetItemsProcessed(state.iterations() * kWrites * kLines);  // items/s = lines/s
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(file.size()));
}
BENCHMARK(BM_DecodeTsbsWalFile);

}  // namespace

BENCHMARK_MAIN();
