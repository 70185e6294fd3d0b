// Line-protocol parse rate on the TSBS cpu-only shape (10 tags, 10 float fields), in lines/s.
#include <benchmark/benchmark.h>

#include <string>

#include "lineproto/line_protocol.h"
#include "tsbs_lines.h"

namespace {

void BM_ParseTsbsBatch(benchmark::State& state) {
  const int lines = static_cast<int>(state.range(0));
  std::string body = TsbsLines(lines);
  for (auto _ : state) {
    auto batch = riffle::lineproto::Parse(body);
    benchmark::DoNotOptimize(batch.lines.data());
  }
  state.SetItemsProcessed(state.iterations() * lines);  // printed as items/s = lines/s
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ParseTsbsBatch)->Arg(5000);

void BM_ParseEscapedLines(benchmark::State& state) {
  std::string body;
  for (int i = 0; i < 5000; ++i)
    body += "my\\ measurement,tag\\ key=tag\\,value,t2=a\\=b f1=\"a \\\"quoted\\\" string\",f2=" + std::to_string(i) +
            "i,f3=t " + std::to_string(1700000000 + i) + "\n";
  for (auto _ : state) {
    auto batch = riffle::lineproto::Parse(body);
    benchmark::DoNotOptimize(batch.lines.data());
  }
  state.SetItemsProcessed(state.iterations() * 5000);
}
BENCHMARK(BM_ParseEscapedLines);

}  // namespace

BENCHMARK_MAIN();
