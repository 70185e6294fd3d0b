// Line-protocol parse rate on the TSBS cpu-only shape (10 tags, 10 float fields), in lines/s.
#include <benchmark/benchmark.h>

#include <string>

#include "lineproto/line_protocol.h"

namespace {

std::string TsbsBatch(int lines) {
  std::string body;
  for (int i = 0; i < lines; ++i) {
    int h = i % 1000;
    body += "cpu,hostname=host_" + std::to_string(h) +
            ",region=us-west-2,datacenter=us-west-2a,rack=" + std::to_string(h % 100) +
            ",os=Ubuntu16.04LTS,arch=x64,team=SF,service=" + std::to_string(h % 20) +
            ",service_version=1,service_environment=production usage_user=58.1317132,usage_system=2.6224297,"
            "usage_idle=24.9969198,usage_nice=61.8525925,usage_iowait=22.9656878,usage_irq=63.4214562,"
            "usage_softirq=6.1016519,usage_steal=44.9897062,usage_guest=80.5133001,usage_guest_nice=38.2080978 " +
            std::to_string(1451606400000000000LL + i) + "\n";
  }
  return body;
}

void BM_ParseTsbsBatch(benchmark::State& state) {
  const int lines = static_cast<int>(state.range(0));
  std::string body = TsbsBatch(lines);
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
