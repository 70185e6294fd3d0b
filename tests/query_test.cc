#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "query/sql_compat.h"

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

}  // namespace
}  // namespace riffle::query
