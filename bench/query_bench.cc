// What checking a statement's scope (query/statement_scope.h) adds to every query: DuckDB parses
// it to JSON, the JSON is read and the tree walked. Compared with preparing the same statement,
// which every query does anyway.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "duck/connection.h"
#include "duck/database.h"
#include "query/statement_scope.h"

namespace {

using namespace riffle;

// TSBS double-groupby-1 as the HTTP API receives it.
constexpr const char* kQuery =
    "SELECT date_trunc('hour', time) AS hour, hostname, avg(usage_user) AS mean_usage_user FROM cpu "
    "WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-01T12:00:00Z' GROUP BY 1, 2 ORDER BY 1, 2";

struct Fixture {
  std::unique_ptr<duck::Database> db = std::move(duck::Database::Open({}).value());
  duck::Connection conn = std::move(duck::Connection::Open(*db).value());
  Fixture() {
    (void)conn.Exec("CREATE TABLE cpu (time TIMESTAMP_NS, hostname VARCHAR, usage_user DOUBLE)");
  }
};

void BM_CheckStatementScope(benchmark::State& state) {
  Fixture f;
  query::StatementScope scope{"bench", {"cpu", "mem", "disk"}, {}};
  for (auto _ : state) {
    auto text = f.conn.ParseTreeJson(kQuery);
    auto tree = nlohmann::json::parse(*text);
    benchmark::DoNotOptimize(query::CheckStatementScope(tree["statements"][0], scope));
  }
}
BENCHMARK(BM_CheckStatementScope)->Unit(benchmark::kMicrosecond);

void BM_ParseTreeJsonOnly(benchmark::State& state) {
  Fixture f;
  for (auto _ : state) benchmark::DoNotOptimize(f.conn.ParseTreeJson(kQuery));
}
BENCHMARK(BM_ParseTreeJsonOnly)->Unit(benchmark::kMicrosecond);

void BM_PrepareSameStatement(benchmark::State& state) {
  Fixture f;
  for (auto _ : state) benchmark::DoNotOptimize(f.conn.PrepareOne(kQuery));
}
BENCHMARK(BM_PrepareSameStatement)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
