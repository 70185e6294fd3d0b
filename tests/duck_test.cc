#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>

#include "duck/connection.h"
#include "duck/database.h"

namespace riffle::duck {
namespace {

// The single value of a one-row, one-column result.
Value OnlyValue(Rows& rows) {
  Batch batch;
  auto more = rows.Next(&batch);
  EXPECT_TRUE(more.ok() && *more && batch.rows == 1) << (more.ok() ? "" : more.status().message());
  return more.ok() && *more && batch.rows == 1 ? batch.at(0, 0) : Value{};
}

// A parsed statement is bound when it runs, with what the connection holds then: here a
// variable set after parsing, which a prepared statement would have bound already.
TEST(ParsedStatement, BindsWhenItRunsWithItsParameters) {
  auto db = Database::Open({});
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto conn = Connection::Open(**db);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn->Exec("SET VARIABLE riffle_v = 1").ok());
  auto stmt = conn->ParseOne("SELECT getvariable('riffle_v') * $factor + $offset::BIGINT");
  ASSERT_TRUE(stmt.ok()) << stmt.status().message();
  EXPECT_TRUE((*stmt)->IsReadOnlyQuery());
  ASSERT_TRUE(conn->Exec("SET VARIABLE riffle_v = 5").ok());
  EXPECT_EQ((*stmt)->Bind("factor", Value{int64_t{10}}).value(), true);
  EXPECT_EQ((*stmt)->Bind("offset", Value{std::string("3")}).value(), true);
  EXPECT_EQ((*stmt)->Bind("absent", Value{int64_t{1}}).value(), false);  // ignored
  auto rows = (*stmt)->ExecuteStreaming();
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ(OnlyValue(**rows), Value{int64_t{53}});
  rows->reset();
  // It runs once; a second run is an error, not a crash.
  EXPECT_FALSE((*stmt)->ExecuteStreaming().ok());

  // A parameter left unbound is DuckDB's error, as for a prepared statement.
  auto unbound = conn->ParseOne("SELECT $x + 1");
  ASSERT_TRUE(unbound.ok());
  auto failed = (*unbound)->ExecuteStreaming();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("x"), std::string::npos) << failed.status().message();
}

// The same refusals and messages as PrepareOne: empty text, several statements, a syntax
// error, a statement that writes, and a binder error when it runs.
TEST(ParsedStatement, RefusesWhatPrepareOneRefuses) {
  auto db = Database::Open({});
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto conn = Connection::Open(**db);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn->Exec("CREATE TABLE t (a BIGINT)").ok());
  for (const char* sql : {"", "  ;", "SELECT 1; SELECT 2", "SELEC 1"}) {
    auto parsed = conn->ParseOne(sql);
    auto prepared = conn->PrepareOne(sql);
    ASSERT_FALSE(parsed.ok()) << sql;
    ASSERT_FALSE(prepared.ok()) << sql;
    EXPECT_EQ(parsed.status().message(), prepared.status().message()) << sql;
  }
  auto insert = conn->ParseOne("INSERT INTO t VALUES (1)");
  ASSERT_TRUE(insert.ok());
  EXPECT_FALSE((*insert)->IsReadOnlyQuery());
  auto explain = conn->ParseOne("EXPLAIN SELECT * FROM t");
  ASSERT_TRUE(explain.ok());
  EXPECT_TRUE((*explain)->IsReadOnlyQuery());
  auto unknown = conn->ParseOne("SELECT nope FROM t");
  ASSERT_TRUE(unknown.ok());
  auto failed = (*unknown)->ExecuteStreaming();
  auto prepared = conn->PrepareOne("SELECT nope FROM t");
  ASSERT_FALSE(failed.ok());
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(failed.status().message(), prepared.status().message());
  EXPECT_EQ(conn->QueryInt64s("SELECT count(*) FROM t").value()[0][0], 0);  // nothing ran
}

// Rows go in by the prepared INSERT: several chunks per commit, several commits, NULL cells and
// strings past DuckDB's 12 inline bytes; a second connection's appender shares the function.
TEST(ChunkAppender, InsertingAppendsEveryCommittedChunk) {
  auto db = Database::Open({});
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto conn = Connection::Open(**db);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(
      conn->Exec("CREATE TABLE t (time TIMESTAMP_NS, host VARCHAR, v DOUBLE, n BIGINT)").ok());
  const std::vector<ColumnKind> kinds = {ColumnKind::kTimestampNs, ColumnKind::kVarchar,
                                         ColumnKind::kDouble, ColumnKind::kBigint};
  auto a = ChunkAppender::Open(*conn, "memory", "main", "t", kinds);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ChunkAppender& appender = **a;
  int64_t next = 0;
  auto append = [&](size_t rows) {
    for (size_t start = 0; start < rows;) {
      size_t count = std::min(appender.Capacity(), rows - start);
      appender.Begin(count);
      int64_t* times = appender.Int64s(0);
      double* values = appender.Doubles(2);
      for (size_t r = 0; r < count; ++r, ++next) {
        times[r] = next;
        appender.SetValid(0, r);
        std::string host = next % 2 ? "a-host-name-longer-than-twelve-bytes" : "short";
        appender.SetString(1, r, host.data(), host.size());
        if (next % 3 == 0) continue;  // v and n stay NULL
        values[r] = static_cast<double>(next) / 2;
        appender.SetValid(2, r);
      }
      ASSERT_TRUE(appender.Flush().ok());
      start += count;
    }
  };
  append(5000);  // three chunks in one commit
  EXPECT_EQ(appender.PendingRows(), 5000u);
  auto none = conn->QueryInt64s("SELECT count(*) FROM t");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)[0][0], 0) << "flushed chunks wait for the commit";
  ASSERT_TRUE(appender.Commit().ok());
  append(1);
  ASSERT_TRUE(appender.Commit().ok());
  append(7);
  ASSERT_TRUE(appender.Commit().ok());
  ASSERT_TRUE(appender.Commit().ok()) << "nothing queued: nothing to do";
  // The same prepared INSERT many times over, and bound again after the catalog changes.
  for (int i = 0; i < 100; ++i) {
    if (i == 50) ASSERT_TRUE(conn->Exec("CREATE TABLE other (x BIGINT)").ok());
    append(static_cast<size_t>(i * 37 % 300 + 1));
    ASSERT_TRUE(appender.Commit().ok());
  }

  auto rows = conn->QueryInt64s(
      "SELECT count(*), count(DISTINCT time), sum(epoch_ns(time)), count(v), "
      "sum(CASE WHEN v = epoch_ns(time) / 2 THEN 1 ELSE 0 END), count(n), "
      "sum(CASE WHEN host = (CASE WHEN epoch_ns(time) % 2 = 1 "
      "THEN 'a-host-name-longer-than-twelve-bytes' ELSE 'short' END) THEN 1 ELSE 0 END) FROM t");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  const int64_t n = next;
  int64_t with_v = n - (n + 2) / 3;
  EXPECT_EQ((*rows)[0], (std::vector<int64_t>{n, n, n * (n - 1) / 2, with_v, with_v, 0, n}));

  auto other = Connection::Open(**db);
  ASSERT_TRUE(other.ok());
  auto second = ChunkAppender::Open(*other, "memory", "main", "t", kinds);
  ASSERT_TRUE(second.ok()) << second.status().message();
  (*second)->Begin(1);
  (*second)->Int64s(0)[0] = -1;
  (*second)->SetValid(0, 0);
  ASSERT_TRUE((*second)->Flush().ok());
  ASSERT_TRUE((*second)->Commit().ok());
  auto total = conn->QueryInt64s("SELECT count(*) FROM t");
  ASSERT_TRUE(total.ok());
  EXPECT_EQ((*total)[0][0], n + 1);
}

// The function reads only the chunks of a live appender; any other id is an error.
TEST(ChunkAppender, TheQueuedChunksFunctionKnowsOnlyLiveAppenders) {
  auto db = Database::Open({});
  ASSERT_TRUE(db.ok());
  auto conn = Connection::Open(**db);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn->Exec("CREATE TABLE t (time TIMESTAMP_NS)").ok());
  auto a = ChunkAppender::Open(*conn, "memory", "main", "t", {ColumnKind::kTimestampNs});
  ASSERT_TRUE(a.ok()) << a.status().message();
  auto rows = conn->QueryInt64s("SELECT count(*) FROM riffle_queued_chunks(987654321::UBIGINT)");
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("no appender has this id"), std::string::npos)
      << rows.status().message();
}

}  // namespace
}  // namespace riffle::duck
