// WAL file decode rate, what a restart's replay does per file before the buffer appends the rows:
// checksum, rebuild each write's line-protocol body, re-parse it. TSBS cpu-only shape (10 tags,
// 10 float fields), four writes of 5,000 lines per file as a busy server flushes them; in lines/s.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "tsbs_lines.h"
#include "wal/wal.h"

namespace {

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
