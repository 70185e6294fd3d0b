#include "influxql/influxql.h"

#include <gtest/gtest.h>

#include "influxql/lexer.h"
#include "influxql/select.h"

namespace riffle::influxql {
namespace {

catalog::Table Cpu() {
  catalog::Table t;
  t.name = "cpu";
  t.AddColumn("host", catalog::ColumnType::kTag, 1);
  t.AddColumn("region", catalog::ColumnType::kTag, 2);
  t.AddColumn("time", catalog::ColumnType::kTime, 3);
  t.AddColumn("usage", catalog::ColumnType::kFloat64, 4);
  t.AddColumn("n", catalog::ColumnType::kInt64, 5);
  return t;
}

std::string Sql(const std::string& q) {
  auto tokens = Lex(q);
  EXPECT_TRUE(tokens.ok()) << tokens.status().message();
  auto plan = TranslateSelect(*tokens, Cpu());
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  return plan.ok() ? plan->sql : "";
}

Status Error(const std::string& q) {
  auto tokens = Lex(q);
  if (!tokens.ok()) return tokens.status();
  auto plan = TranslateSelect(*tokens, Cpu());
  return plan.ok() ? Status::Ok() : plan.status();
}

TEST(InfluxQLLexer, DurationsNumbersRegexesAndQuotes) {
  auto t =
      Lex("SELECT \"a b\" FROM m WHERE time > now() - 1h30m AND x =~ /^a\\/b/ AND s = 'it\\'s' AND "
          "v > 1.5e3");
  ASSERT_TRUE(t.ok()) << t.status().message();
  bool saw_duration = false, saw_regex = false, saw_string = false, saw_number = false;
  for (const auto& tok : *t) {
    if (tok.type == TokenType::kDuration) saw_duration = tok.duration_ns == 5'400'000'000'000;
    if (tok.type == TokenType::kRegex) saw_regex = tok.text == "^a/b";
    if (tok.type == TokenType::kString) saw_string = tok.text == "it's";
    if (tok.type == TokenType::kNumber) saw_number = tok.text == "1.5e3";
  }
  EXPECT_TRUE(saw_duration && saw_regex && saw_string && saw_number);
  EXPECT_FALSE(Lex("SELECT 'open").ok());
  EXPECT_FALSE(Lex("SELECT 10xyz FROM m").ok());
}

TEST(InfluxQLLexer, BoundParametersBecomeLiteralTokens) {
  auto params = ParseBoundParams(R"({"h": "it's", "n": -2.5, "b": true})");
  ASSERT_TRUE(params.ok()) << params.status().message();
  auto t = Lex("SELECT v FROM m WHERE host = $h AND v > $n AND ok = $b", &*params);
  ASSERT_TRUE(t.ok()) << t.status().message();
  std::vector<std::string> texts;
  for (const auto& tok : *t) texts.push_back(tok.text);
  EXPECT_EQ(texts,
            (std::vector<std::string>{"SELECT", "v", "FROM", "m", "WHERE", "host", "=", "it's",
                                      "AND", "v", ">", "-", "2.5", "AND", "ok", "=", "true", ""}));
  EXPECT_EQ((*t)[7].type, TokenType::kString);
  EXPECT_FALSE(Lex("SELECT v FROM m WHERE host = $missing", &*params).ok());
  EXPECT_FALSE(Lex("SELECT v FROM m WHERE host = $h").ok());  // no parameters given
  EXPECT_FALSE(ParseBoundParams(R"({"x": [1]})").ok());
  EXPECT_FALSE(ParseBoundParams("not json").ok());
}

TEST(InfluxQLSelect, RawSelectListsTimeThenSortedColumns) {
  EXPECT_EQ(Sql("SELECT * FROM \"cpu\" ORDER BY time DESC LIMIT 1"),
            "SELECT \"time\" AS \"time\", \"host\" AS \"host\", \"n\" AS \"n\", \"region\" AS "
            "\"region\", "
            "\"usage\" AS \"usage\" FROM \"cpu\" ORDER BY \"time\" DESC LIMIT 1");
}

TEST(InfluxQLSelect, AggregatesExpandStarAndBucketTime) {
  std::string sql =
      Sql("SELECT count(*) FROM cpu WHERE time >= 1700000000000000000 AND host =~ /a/");
  EXPECT_NE(sql.find("count(\"n\") AS \"count_n\", count(\"usage\") AS \"count_usage\""),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("\"time\" >= make_timestamp_ns(1700000000000000000)"), std::string::npos)
      << sql;
  EXPECT_NE(sql.find("regexp_matches(\"host\", 'a')"), std::string::npos) << sql;
  sql =
      Sql("SELECT mean(usage) AS u, last(n) FROM cpu WHERE time > now() - 1h GROUP BY time(5m), "
          "host fill(0)");
  EXPECT_NE(sql.find("date_bin(INTERVAL '300000000 microseconds', \"time\""), std::string::npos)
      << sql;
  EXPECT_NE(sql.find("coalesce(a.\"u\", 0) AS \"u\""), std::string::npos) << sql;
  EXPECT_NE(sql.find("arg_max(\"n\", \"time\")"), std::string::npos) << sql;
  EXPECT_NE(sql.find("now() - INTERVAL '3600000000 microseconds'"), std::string::npos) << sql;
  EXPECT_NE(sql.find("GROUP BY 1, \"host\""), std::string::npos) << sql;
}

TEST(InfluxQLSelect, UnsupportedFormsAreClearErrors) {
  EXPECT_EQ(Error("SELECT mean(usage), usage FROM cpu").message(),
            "mixing aggregate and non-aggregate queries is not supported");
  EXPECT_EQ(Error("SELECT usage FROM cpu GROUP BY time(1m)").message(),
            "GROUP BY requires at least one aggregate function");
  EXPECT_EQ(Error("SELECT mean(usage) FROM cpu GROUP BY time(1m) fill(linear)").code(),
            Code::kUnimplemented);
  EXPECT_EQ(Error("SELECT usage FROM /c.*/").code(), Code::kUnimplemented);
}

TEST(InfluxQLStatements, SplitKeepsSemicolonsInsideQuotes) {
  EXPECT_EQ(SplitStatements("SHOW DATABASES; SELECT 'a;b' FROM m;  "),
            (std::vector<std::string>{"SHOW DATABASES", " SELECT 'a;b' FROM m"}));
}

}  // namespace
}  // namespace riffle::influxql
