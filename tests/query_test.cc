#include "query/query.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "duck/connection.h"
#include "duck/database.h"
#include "query/last_point.h"
#include "query/plan_hints.h"
#include "query/sql_compat.h"
#include "query/statement_scope.h"
#include "query/time_bounds.h"

namespace riffle::query {
namespace {

RewrittenSql Rewrite(const std::string& sql, const std::map<std::string, std::string>& params = {}) {
  auto r = RewriteSql(sql, [&](const std::string& name, std::string* value) {
    auto it = params.find(name);
    if (it == params.end()) return false;
    *value = it->second;
    return true;
  });
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : RewrittenSql{};
}

TEST(SqlCompat, ShowTablesBecomesASelect) {
  auto r = Rewrite("  show TABLES ;");
  EXPECT_TRUE(r.needs_info_tables);
  EXPECT_NE(r.sql.find("SELECT table_catalog"), std::string::npos);
}

TEST(SqlCompat, SystemAndInformationSchemaNamesAreMapped) {
  auto r = Rewrite("SELECT * FROM system.processing_engine_logs, information_schema.columns");
  EXPECT_EQ(r.system_tables.count("processing_engine_logs"), 1u);
  EXPECT_TRUE(r.needs_info_columns);
  EXPECT_EQ(r.sql.find("system."), std::string::npos);
}

TEST(SqlCompat, StringsCommentsAndQuotedNamesAreNotRewritten) {
  auto r = Rewrite("SELECT 'system.x', \"now\" FROM t -- system.y\n WHERE a = 'now()'");
  EXPECT_TRUE(r.system_tables.empty());
  EXPECT_NE(r.sql.find("'system.x'"), std::string::npos);
  EXPECT_NE(r.sql.find("'now()'"), std::string::npos);
  EXPECT_NE(r.sql.find("-- system.y"), std::string::npos);
}

TEST(SqlCompat, NowBecomesAZonelessTimestamp) {
  EXPECT_EQ(Rewrite("SELECT * FROM cpu WHERE time > now() - INTERVAL '1 hour'").sql,
            "SELECT * FROM cpu WHERE time > riffle_now() - INTERVAL '1 hour'");
}

TEST(SqlCompat, IoxQualifiedTablesAreUnwrapped) {
  EXPECT_EQ(Rewrite("SELECT * FROM public.iox.cpu").sql, "SELECT * FROM \"cpu\"");
  EXPECT_EQ(Rewrite("SELECT * FROM iox.\"my table\"").sql, "SELECT * FROM \"my table\"");
}

TEST(SqlCompat, TableParameterBecomesAQuotedIdentifier) {
  auto r = Rewrite("SELECT * FROM $table WHERE value > $threshold", {{"table", "met\"rics"}, {"threshold", "90"}});
  EXPECT_EQ(r.sql, "SELECT * FROM \"met\"\"rics\" WHERE value > $threshold");
  EXPECT_EQ(r.params_used_as_tables.count("table"), 1u);
  EXPECT_EQ(r.params_used_as_tables.count("threshold"), 0u);
}

TEST(SqlCompat, OrderedFirstAndLastValueBecomeDuckDBAggregates) {
  EXPECT_EQ(Rewrite("SELECT first_value(v ORDER BY time), LAST_VALUE(v ORDER BY time) FROM t").sql,
            "SELECT first(v ORDER BY time), last(v ORDER BY time) FROM t");
  // The window functions are DuckDB's too and stay as written.
  std::string window = "SELECT first_value(v) OVER (PARTITION BY h ORDER BY time) FROM t";
  EXPECT_EQ(Rewrite(window).sql, window);
  EXPECT_EQ(Rewrite("SELECT x.first_value(v) FROM t").sql, "SELECT x.first_value(v) FROM t");
}

TEST(SqlCompat, ArrowCastBecomesACastAndItsArgumentIsStillRewritten) {
  EXPECT_EQ(Rewrite("SELECT to_timestamp_nanos(arrow_cast($p, 'Int64'))").sql,
            "SELECT to_timestamp_nanos(CAST($p AS BIGINT))");
  EXPECT_EQ(Rewrite("SELECT arrow_cast(f(a, b), 'Timestamp(Nanosecond, None)') FROM t").sql,
            "SELECT CAST(f(a, b) AS TIMESTAMP_NS) FROM t");
  EXPECT_EQ(Rewrite("SELECT arrow_cast(now(), 'Utf8')").sql, "SELECT CAST(riffle_now() AS VARCHAR)");
  EXPECT_EQ(Rewrite("SELECT arrow_cast(arrow_cast(x, 'Int32'), 'Float64') FROM t").sql,
            "SELECT CAST(CAST(x AS INTEGER) AS DOUBLE) FROM t");
  auto bad = RewriteSql("SELECT arrow_cast(x, 'Decimal256')", nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unsupported type 'Decimal256'"), std::string::npos);
}

TEST(SqlCompat, UnterminatedLiteralIsAnError) {
  EXPECT_FALSE(RewriteSql("SELECT 'abc", nullptr).ok());
}


// The scope check on DuckDB's real parse trees: what a statement for database "mine" (tables
// pub and Cpu) may name.
class StatementScopeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = duck::Database::Open({});
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(db).value();
    auto conn = duck::Connection::Open(*db_);
    ASSERT_TRUE(conn.ok());
    conn_ = std::make_unique<duck::Connection>(std::move(conn).value());
  }
  Status Check(const std::string& sql) {
    auto text = conn_->ParseTreeJson(WithoutExplain(sql));
    if (!text.ok()) return text.status();
    auto tree = nlohmann::json::parse(*text);
    if (tree.value("error", false)) return Status::InvalidArgument(tree.value("error_message", "?"));
    StatementScope scope{"mine", {"pub", "cpu"}, {"riffle_system_queries"}};
    return CheckStatementScope(tree["statements"][0], scope);
  }
  std::unique_ptr<duck::Database> db_;
  std::unique_ptr<duck::Connection> conn_;
};

TEST_F(StatementScopeTest, TheDatabasesOwnTablesAndHarmlessFormsPass) {
  for (const char* ok : {"SELECT * FROM pub", "SELECT * FROM PUB JOIN Cpu USING (time)", "FROM pub",
                         "SELECT unnest([1, 2]) AS x", "SELECT * FROM range(3)", "SELECT * FROM generate_series(1, 2)",
                         "WITH x AS (SELECT * FROM pub) SELECT * FROM x",
                         "WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b",
                         "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t",
                         "SELECT (SELECT count(*) FROM pub)", "SELECT * FROM pub WHERE v IN (SELECT v FROM cpu)",
                         "EXPLAIN SELECT * FROM pub", "EXPLAIN ANALYZE SELECT * FROM pub", "DESCRIBE pub",
                         "SUMMARIZE pub", "VALUES (1), (2)", "SELECT * FROM temp.main.riffle_system_queries",
                         "SELECT * FROM riffle_system_queries", "SELECT date_trunc('hour', time) FROM pub",
                         "SELECT list_transform([1, 2], x -> x + 1)", "SELECT * FROM pub, LATERAL (SELECT 1) s"})
    EXPECT_TRUE(Check(ok).ok()) << ok << ": " << Check(ok).message();
}

TEST_F(StatementScopeTest, AnythingOutsideTheDatabaseIsRefused) {
  for (const char* bad : {"SELECT * FROM db_2.secret", "SELECT * FROM buffer.db_2.secret", "FROM db_2.secret",
                          "SELECT * FROM secret", "SELECT * FROM duckdb_tables()", "SELECT * FROM duckdb_tables",
                          "SELECT * FROM pg_tables", "SELECT * FROM pg_catalog.pg_namespace",
                          "SELECT * FROM information_schema.schemata", "SELECT * FROM sqlite_master",
                          "SELECT getvariable('riffle_files_1')", "SELECT current_setting('search_path')",
                          "SELECT pg_get_viewdef(1)", "SELECT main.getvariable('x')",
                          "SELECT * FROM read_parquet('/data/**/*.parquet')", "SELECT * FROM 'x.parquet'",
                          "SELECT * FROM glob('/data/*')", "SELECT * FROM query('SELECT 1')",
                          "SELECT * FROM query_table('db_2.secret')", "SELECT * FROM riffle_system_parquet_files",
                          "WITH x AS (SELECT * FROM db_2.secret) SELECT * FROM x",
                          "WITH duckdb_tables AS (SELECT * FROM duckdb_tables) SELECT * FROM duckdb_tables",
                          "SELECT * FROM (WITH duckdb_views AS (SELECT 1) SELECT 1), duckdb_views",
                          "SELECT * FROM pub UNION ALL SELECT * FROM db_2.secret",
                          "SELECT (SELECT count(*) FROM db_2.secret)", "SELECT * FROM pub WHERE EXISTS (FROM db_2.secret)",
                          "EXPLAIN SELECT * FROM db_2.secret", "DESCRIBE db_2.secret", "SUMMARIZE db_2.secret",
                          "SHOW ALL TABLES", "SELECT * FROM (SHOW ALL TABLES)",
                          "SELECT * FROM pub, LATERAL (SELECT * FROM db_2.secret) s",
                          "SELECT list_transform([1], x -> (SELECT count(*) FROM db_2.secret))"})
    EXPECT_FALSE(Check(bad).ok()) << bad;
}

TEST_F(StatementScopeTest, OnlyStatementsThatJoinNothingSkipTheJoinOrderOptimizer) {
  auto skipped = [this](const std::string& sql) {
    auto statement = ParseOneStatement(*conn_, sql);
    EXPECT_TRUE(statement.has_value()) << sql;
    return statement ? OptimizersNotNeeded(*statement) : std::string("?");
  };
  for (const char* plain :
       {"SELECT * FROM cpu WHERE host = 'a' AND time > now() - INTERVAL '1 hour'",
        "SELECT date_bin(INTERVAL '1 minute', time) AS t, max(v) FROM cpu GROUP BY 1 ORDER BY 1",
        "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, time DESC",
        "WITH w AS (SELECT * FROM cpu) SELECT count(*) FROM (SELECT * FROM w) s",
        "SELECT * FROM cpu UNION ALL SELECT * FROM pub", "SELECT * FROM range(3)"})
    EXPECT_EQ(skipped(plain), "join_order") << plain;
  for (const char* joins :
       {"SELECT * FROM cpu JOIN pub USING (time)", "SELECT * FROM cpu, pub",
        "SELECT * FROM cpu WHERE host IN (SELECT host FROM pub)",
        "SELECT (SELECT max(v) FROM pub) AS m FROM cpu",
        "SELECT * FROM (SELECT * FROM cpu LEFT JOIN pub ON cpu.time = pub.time) s",
        "SELECT * FROM cpu PIVOT (max(v) FOR host IN ('a', 'b'))"})
    EXPECT_EQ(skipped(joins), "") << joins;
}

TEST(WithoutExplain, StripsEveryExplainForm) {
  EXPECT_EQ(WithoutExplain("EXPLAIN SELECT 1"), "SELECT 1");
  EXPECT_EQ(WithoutExplain("  explain analyze SELECT 1"), "SELECT 1");
  EXPECT_EQ(WithoutExplain("/* c */ EXPLAIN (FORMAT json) SELECT 1"), " SELECT 1");
  EXPECT_EQ(WithoutExplain("SELECT explain FROM t"), "SELECT explain FROM t");
  EXPECT_EQ(WithoutExplain("explained"), "explained");
}

// The time bounds a statement puts on each table, found on DuckDB's real parse trees and
// evaluated by DuckDB (query/time_bounds.h).
class TimeBoundsTest : public StatementScopeTest {
 protected:
  static constexpr int64_t kSecond = 1'000'000'000;
  // table -> [lo, hi] with the one-second widening taken off again.
  std::map<std::string, std::pair<int64_t, int64_t>> Ranges(const std::string& sql,
                                                            const std::string& param = "") {
    StatementTimeBounds bounds = AnalyzeTimeBounds(*conn_, sql);
    auto ranges = EvaluateTimeBounds(*conn_, bounds, [&](duck::Statement& stmt) {
      if (!param.empty()) return stmt.Bind("p", duck::Value(param)).status();
      return Status::Ok();
    });
    std::map<std::string, std::pair<int64_t, int64_t>> out;
    for (const auto& [table, r] : ranges)
      out[table] = {r.lo == INT64_MIN ? r.lo : r.lo + kSecond,
                    r.hi == INT64_MAX ? r.hi : r.hi - kSecond};
    return out;
  }
  static constexpr int64_t k2020 = 1577836800 * kSecond;  // 2020-01-01T00:00:00Z
};

TEST_F(TimeBoundsTest, ComparisonsWithLiteralsBoundTheTable) {
  using Range = std::pair<int64_t, int64_t>;
  EXPECT_EQ(Ranges("SELECT * FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time < "
                   "'2020-01-01T01:00:00Z'"),
            (std::map<std::string, Range>{{"cpu", {k2020, k2020 + 3600 * kSecond}}}));
  EXPECT_EQ(Ranges("SELECT * FROM Cpu WHERE host = 'a' AND '2020-01-01' <= time"),
            (std::map<std::string, Range>{{"cpu", {k2020, INT64_MAX}}}));
  EXPECT_EQ(
      Ranges(
          "SELECT * FROM cpu c WHERE c.time BETWEEN TIMESTAMP '2020-01-01' AND DATE '2020-01-02'"),
      (std::map<std::string, Range>{{"cpu", {k2020, k2020 + 86400 * kSecond}}}));
  EXPECT_EQ(
      Ranges("SELECT * FROM cpu WHERE time = '2020-01-01T00:00:00+01:00'"),
      (std::map<std::string, Range>{{"cpu", {k2020 - 3600 * kSecond, k2020 - 3600 * kSecond}}}));
  EXPECT_EQ(
      Ranges("SELECT count(*) FROM (SELECT * FROM cpu WHERE time > $p) GROUP BY 1", "2020-01-01"),
      (std::map<std::string, Range>{{"cpu", {k2020, INT64_MAX}}}));
  // DuckDB's parser turns NOT > into <=.
  EXPECT_EQ(Ranges("SELECT * FROM cpu WHERE NOT time > '2020-01-01'"),
            (std::map<std::string, Range>{{"cpu", {INT64_MIN, k2020}}}));
  // Two bounds of one side: the narrower wins.
  EXPECT_EQ(Ranges("SELECT * FROM cpu WHERE time > '2020-01-01' AND time > '2019-01-01'"),
            (std::map<std::string, Range>{{"cpu", {k2020, INT64_MAX}}}));
}

// Literal bounds are evaluated once, when the statement is analysed; bounds with the clock or a
// parameter are evaluated at each run.
TEST_F(TimeBoundsTest, OnlyConstantBoundsAreEvaluatedOnce) {
  StatementTimeBounds literal = AnalyzeTimeBounds(
      *conn_, "SELECT * FROM cpu WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-02'");
  ASSERT_TRUE(literal.constant_ranges.has_value());
  ASSERT_EQ(literal.constant_ranges->count("cpu"), 1u);
  EXPECT_EQ(literal.constant_ranges->at("cpu").lo, k2020 - kSecond);
  int binds = 0;
  auto ranges = EvaluateTimeBounds(*conn_, literal, [&](duck::Statement&) {
    ++binds;
    return Status::Ok();
  });
  EXPECT_EQ(binds, 0);  // nothing prepared, nothing bound
  EXPECT_EQ(ranges.at("cpu").hi, k2020 + 86400 * kSecond + kSecond);
  for (const char* sql : {"SELECT * FROM cpu WHERE time > now() - INTERVAL '1 hour'",
                          "SELECT * FROM cpu WHERE time > $p AND time < '2021-01-01'"})
    EXPECT_FALSE(AnalyzeTimeBounds(*conn_, sql).constant_ranges.has_value()) << sql;
}

TEST_F(TimeBoundsTest, TheClockIsWidenedByAMinute) {
  auto ranges = Ranges("SELECT * FROM cpu WHERE time < now() AND time > now() - INTERVAL '1 hour'");
  ASSERT_EQ(ranges.size(), 1u);
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  EXPECT_NEAR(static_cast<double>(ranges["cpu"].second), static_cast<double>(now + 60 * kSecond),
              5e9);
  EXPECT_NEAR(static_cast<double>(ranges["cpu"].first), static_cast<double>(now - 3600 * kSecond),
              5e9);
}

TEST_F(TimeBoundsTest, WhatIsNotCertainBoundsNothing) {
  for (const char* sql :
       {"SELECT * FROM cpu WHERE time > '2020-01-01' OR host = 'a'",  // not a conjunct
        "SELECT * FROM cpu a JOIN cpu b USING (time) WHERE a.time > '2020-01-01'",  // read twice
        "SELECT * FROM cpu JOIN mem USING (host) WHERE time > '2020-01-01'",        // a join
        "SELECT * FROM cpu WHERE date_trunc('day', time) > '2020-01-01'",  // a function of time
        "SELECT * FROM cpu WHERE time > (SELECT max(time) FROM mem)",      // a subquery
        "SELECT * FROM cpu WHERE time > random()::TIMESTAMP",              // not a time function
        "SELECT * FROM cpu WHERE time > 5",                                // not a time
        "SELECT * FROM cpu AS c(a, b, time) WHERE time > '2020-01-01'",    // columns renamed
        "SELECT * FROM cpu WHERE mem.time > '2020-01-01'",                 // another table's time
        "SELECT * FROM cpu WHERE time > 'yesterday-ish'",                  // not castable
        "SELECT * FROM cpu WHERE time > $p",                               // no value bound
        "SELECT * FROM cpu; SELECT 1", "SELECT * FROM cpu WHERE"}) {
    EXPECT_TRUE(Ranges(sql).empty()) << sql;
  }
  // Only the table the bounds are on is bounded.
  auto ranges = Ranges("SELECT * FROM cpu WHERE time > '2020-01-01' UNION ALL SELECT * FROM mem");
  EXPECT_EQ(ranges.size(), 1u);
  EXPECT_TRUE(ranges.count("cpu"));
}

// "The newest row of each key" (query/last_point.h) on DuckDB's real parse trees: the shapes
// it rewrites give exactly the rows the statement as written gives, on data with NULL keys,
// ties at the newest time and newest rows that the WHERE clause leaves out.
class LastPointTest : public StatementScopeTest {
 protected:
  void SetUp() override {
    StatementScopeTest::SetUp();
    ASSERT_TRUE(
        conn_
            ->Exec(
                "CREATE TABLE cpu (host VARCHAR, region VARCHAR, v DOUBLE, \"time\" TIMESTAMP_NS);"
                "INSERT INTO cpu VALUES ('a', 'eu', 1, '2020-01-01 00:00:01'), ('a', 'eu', 2, "
                "'2020-01-01 00:00:03'),"
                "('a', 'us', 3, '2020-01-01 00:00:03'), ('a', 'us', 9, '2020-01-01 00:00:02'),"
                "('b', 'eu', 4, '2020-01-01 00:00:05'), ('b', NULL, 50, '2020-01-01 00:00:09'),"
                "(NULL, 'eu', 6, '2020-01-01 00:00:07'), (NULL, 'us', 7, '2020-01-01 00:00:04'),"
                "('c', 'us', 8, '2020-01-01 00:00:01');"
                "CREATE TABLE mem (host VARCHAR, \"time\" TIMESTAMP_NS)")
            .ok());
  }
  std::optional<std::string> Rewritten(const std::string& sql) {
    auto rewritten =
        LastPointSql(*conn_, sql, [](const std::string& name) { return name == "cpu"; });
    if (!rewritten) return std::nullopt;
    return rewritten->sql;
  }
  // The rows as text, in the order the statement gives them.
  std::vector<std::string> Rows(const std::string& sql) {
    std::vector<std::string> out;
    auto stmt = conn_->PrepareOne("SELECT CAST(r AS VARCHAR) FROM (" + sql + ") AS r");
    EXPECT_TRUE(stmt.ok()) << sql << ": " << stmt.status().message();
    if (!stmt.ok()) return out;
    auto rows = (*stmt)->ExecuteStreaming();
    EXPECT_TRUE(rows.ok()) << sql;
    if (!rows.ok()) return out;
    duck::Batch batch;
    for (;;) {
      auto more = (*rows)->Next(&batch);
      if (!more.ok() || !*more) break;
      for (size_t r = 0; r < batch.rows; ++r) out.push_back(std::get<std::string>(batch.at(r, 0)));
    }
    return out;
  }
};

TEST_F(LastPointTest, RewrittenShapesGiveTheSameRows) {
  for (const char* sql : {
           "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, time DESC, region",
           "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host DESC NULLS FIRST, time DESC, v",
           "select distinct on (HOST) * from CPU order by Host, TIME desc, region limit 2",
           "SELECT DISTINCT ON (host, region) * FROM cpu ORDER BY region, host, time DESC",
           "SELECT DISTINCT ON (c.host) c.host, v::VARCHAR AS value, time FROM cpu AS c "
           "WHERE v < 5 AND c.time >= '2020-01-01 00:00:02' ORDER BY c.host, c.time DESC, region",
           "SELECT DISTINCT ON (region) * EXCLUDE (v) FROM cpu WHERE host IS NOT NULL "
           "ORDER BY region, time DESC, host LIMIT 5 OFFSET 1",
           "SELECT DISTINCT ON (cpu.host) cpu.* FROM cpu WHERE region = 'eu' ORDER BY cpu.host, "
           "time DESC",
       }) {
    auto rewritten = Rewritten(sql);
    ASSERT_TRUE(rewritten.has_value()) << sql;
    EXPECT_NE(rewritten->find("SEMI JOIN"), std::string::npos) << *rewritten;
    auto want = Rows(sql);
    EXPECT_FALSE(want.empty()) << sql;
    EXPECT_EQ(Rows(*rewritten), want) << sql << "\nrewritten: " << *rewritten;
  }
}

TEST_F(LastPointTest, ParametersKeepTheirMeaning) {
  const std::string sql =
      "SELECT DISTINCT ON (host) * FROM cpu WHERE v < $max ORDER BY host, time DESC, region";
  auto rewritten = Rewritten(sql);
  ASSERT_TRUE(rewritten.has_value());
  auto run = [&](const std::string& text) {
    auto stmt = conn_->PrepareOne(text);
    EXPECT_TRUE(stmt.ok()) << text;
    EXPECT_TRUE((*stmt)->Bind("max", duck::Value(8.5)).ok());
    auto rows = (*stmt)->ExecuteStreaming();
    duck::Batch batch;
    std::vector<double> values;
    while (rows.ok()) {
      auto more = (*rows)->Next(&batch);
      if (!more.ok() || !*more) break;
      for (size_t r = 0; r < batch.rows; ++r) values.push_back(std::get<double>(batch.at(r, 2)));
    }
    return values;
  };
  EXPECT_EQ(run(*rewritten), run(sql));
  EXPECT_EQ(run(sql), (std::vector<double>{2, 4, 8, 6}));  // b's newest (50) is left out
}

// What the engine narrows by (query/newest_bound.h): the table and the key columns, lower-cased
// and sorted, and whether a WHERE clause keeps some rows only.
TEST_F(LastPointTest, ShapeNamesTableKeysAndFilter) {
  auto is_cpu = [](const std::string& name) { return name == "cpu"; };
  auto whole = LastPointSql(*conn_,
                            "SELECT DISTINCT ON (Region, host) * FROM CPU ORDER BY host, "
                            "region, time DESC",
                            is_cpu);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->shape.table, "cpu");
  EXPECT_EQ(whole->shape.keys, (std::vector<std::string>{"host", "region"}));
  EXPECT_FALSE(whole->shape.filtered);
  auto filtered = LastPointSql(
      *conn_, "SELECT DISTINCT ON (host) * FROM cpu WHERE v > 1 ORDER BY host, time DESC", is_cpu);
  ASSERT_TRUE(filtered);
  EXPECT_FALSE(filtered->shape.filtered);  // a condition on a row's own column, a field
  EXPECT_EQ(filtered->shape.filter_columns, (std::set<std::string>{"v"}));
  // Lower bounds on time leave every key's newest row in or out with all its older ones, and
  // conditions on a row's own columns make the bound one of the rows they keep: a bound applies
  // where those columns are tags (here host and region; the engine checks). Anything else may
  // keep an older row, or differ between runs.
  auto shape_of = [&](const std::string& where) {
    auto lp = LastPointSql(
        *conn_, "SELECT DISTINCT ON (host) * FROM cpu WHERE " + where + " ORDER BY host, time DESC",
        is_cpu);
    EXPECT_TRUE(lp) << where;
    return lp ? lp->shape : LastPointShape{};
  };
  auto on_tags = [](const LastPointShape& shape) {
    for (const auto& c : shape.filter_columns)
      if (c != "host" && c != "region") return false;
    return !shape.filtered;
  };
  for (const char* where :
       {"time > now() - INTERVAL 1 HOUR", "time >= '2020-01-01' AND cpu.time > $since",
        "'2020-01-01' <= time", "time >= to_timestamp(1577836800) AND time > NULL"}) {
    auto shape = shape_of(where);
    // No condition: the bound of the keys alone, found over every row.
    EXPECT_TRUE(on_tags(shape) && shape.filter.empty()) << where;
    EXPECT_EQ(shape.finding_sql.find("WHERE"), std::string::npos) << shape.finding_sql;
  }
  auto tags = shape_of("time > '2020-01-01' AND host IN ('a', 'b') AND NOT (Region LIKE 'us%')");
  EXPECT_TRUE(on_tags(tags));
  EXPECT_EQ(tags.filter_columns, (std::set<std::string>{"host", "region"}));
  EXPECT_NE(tags.finding_sql.find("max("), std::string::npos) << tags.finding_sql;
  EXPECT_NE(tags.finding_sql.find("WHERE"), std::string::npos) << tags.finding_sql;
  // The same conditions elsewhere in the text are the same bound.
  EXPECT_EQ(shape_of("host IN ('a', 'b') AND  NOT (Region LIKE 'us%')").filter, tags.filter);
  EXPECT_NE(shape_of("host IN ('a', 'c')").filter, shape_of("host IN ('a', 'b')").filter);
  for (const char* where :
       {"time < now()", "time = '2020-01-01'", "time BETWEEN '2020-01-01' AND '2021-01-01'",
        "time > '2020-01-01' OR time > '2019-01-01'",
        "time > '2020-01-01'::TIMESTAMP + to_seconds(v)",
        "time > now() - to_seconds(random() * 10)", "v < time", "other.time > '2020-01-01'",
        "host = $h", "v > 1", "host = 'a' OR v > 1"}) {
    EXPECT_FALSE(on_tags(shape_of(where))) << where;
  }
  // A column named as itself, as InfluxQL's translation writes it.
  auto as_itself = LastPointSql(*conn_,
                                "SELECT DISTINCT ON (host) \"time\" AS \"time\", v AS v, "
                                "host AS host FROM cpu ORDER BY host, time DESC, v",
                                is_cpu);
  ASSERT_TRUE(as_itself);
  EXPECT_EQ(Rows(as_itself->sql),
            Rows("SELECT DISTINCT ON (host) time, v, host FROM (SELECT * FROM "
                 "cpu) AS cpu ORDER BY host, time DESC, v"));
  // Another column named `time` still is not.
  EXPECT_FALSE(LastPointSql(*conn_,
                            "SELECT DISTINCT ON (host) v AS time FROM cpu ORDER BY host, "
                            "time DESC",
                            is_cpu));
}

TEST_F(LastPointTest, OtherShapesAreLeftAlone) {
  for (
      const char* sql : {
          "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, time",               // oldest
          "SELECT DISTINCT ON (host) * FROM cpu ORDER BY time DESC, host",          // time first
          "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host",                     // no time
          "SELECT DISTINCT ON (host, region) * FROM cpu ORDER BY host, time DESC",  // a key missing
          "SELECT DISTINCT ON (lower(host)) * FROM cpu ORDER BY lower(host), time DESC",
          "SELECT DISTINCT ON (host) host, v AS time FROM cpu ORDER BY host, time DESC",  // shadows
          "SELECT DISTINCT ON (h) host AS h, time FROM cpu ORDER BY h, time DESC",
          "SELECT DISTINCT ON (host) * REPLACE (v + 1 AS v) FROM cpu ORDER BY host, time DESC",
          "SELECT DISTINCT ON (host) host, v + 1, time FROM cpu ORDER BY host, time DESC",
          "SELECT DISTINCT ON (host) host, row_number() OVER () FROM cpu ORDER BY host, time DESC",
          "SELECT DISTINCT ON (host) * FROM cpu WHERE v > (SELECT 1) ORDER BY host, time DESC",
          "SELECT DISTINCT ON (host) * FROM mem ORDER BY host, time DESC",  // not the database's
          "SELECT DISTINCT ON (host) * FROM cpu JOIN mem USING (host) ORDER BY host, cpu.time DESC",
          "WITH cpu AS (SELECT * FROM mem) SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, "
          "time DESC",
          "SELECT DISTINCT ON (host) * FROM (SELECT * FROM cpu) ORDER BY host, time DESC",
          "SELECT DISTINCT host FROM cpu ORDER BY host",
          "SELECT DISTINCT ON (host) * FROM cpu TABLESAMPLE 50% ORDER BY host, time DESC",
          "SELECT DISTINCT ON (host) * FROM cpu AS c(h, r, v, t) ORDER BY host, time DESC",
          "SELECT DISTINCT ON (host) host FROM cpu GROUP BY host, time ORDER BY host, time DESC",
          "SELECT DISTINCT ON (host) * FROM cpu ORDER BY host, time DESC; SELECT 1",
          "SELECT DISTINCT ON (host) * FROM cpu UNION ALL SELECT DISTINCT ON (host) * FROM cpu",
      }) {
    EXPECT_FALSE(Rewritten(sql).has_value()) << sql;
  }
}

}  // namespace
}  // namespace riffle::query

namespace riffle::query {
namespace {

// JSON output copies plain strings as they are and escapes the rest as a JSON library does;
// floats keep a decimal point; integers of both signs and widths are exact.
TEST(JsonFormat, StringsFloatsAndIntegersAreValidJson) {
  const std::vector<std::string> strings = {"host_1",        "",
                                            "say \"hi\"",    "back\\slash",
                                            "tab\there",     std::string("nul\0x", 5),
                                            "\x7f",          "caf\xc3\xa9",
                                            "bad \xff utf8", "line\nbreak"};
  QueryResult result;
  result.column_names = {"s", "f", "i", "u"};
  for (size_t k = 0; k < strings.size(); ++k)
    result.rows.push_back({strings[k], k % 2 ? 2.0 : 1.5e-9 * static_cast<double>(k),
                           static_cast<int64_t>(k) - 5, std::numeric_limits<uint64_t>::max() - k});
  std::string text = Render(result, Format::kJson);
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(parsed.is_array()) << text;
  ASSERT_EQ(parsed.size(), strings.size());
  for (size_t k = 0; k < strings.size(); ++k) {
    std::string want =
        nlohmann::json(strings[k]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    EXPECT_EQ(parsed[k]["s"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), want);
    EXPECT_EQ(parsed[k]["i"].get<int64_t>(), static_cast<int64_t>(k) - 5);
    EXPECT_EQ(parsed[k]["u"].get<uint64_t>(), std::numeric_limits<uint64_t>::max() - k);
  }
  EXPECT_NE(text.find("\"f\":2.0"), std::string::npos) << text;
  EXPECT_NE(text.find("\"f\":3e-09"), std::string::npos) << text;
}

}  // namespace
}  // namespace riffle::query
