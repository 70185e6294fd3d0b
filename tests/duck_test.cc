#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>

#include "duck/connection.h"
#include "duck/database.h"

namespace riffle::duck {
namespace {

int64_t FlagValue(Connection& conn) {
  auto rows = conn.QueryInt64s("SELECT riffle_test_flag()::BIGINT");
  EXPECT_TRUE(rows.ok()) << rows.status().message();
  return rows.ok() ? (*rows)[0][0] : -1;
}

// The flag is the binding thread's: a scope on one thread does not show on another, and it
// holds as long as any scope on the thread does.
TEST(ThreadFlag, IsTrueOnlyOnTheThreadInsideAScope) {
  auto db = Database::Open({});
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto conn = Connection::Open(**db);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(RegisterThreadFlag(*conn, "riffle_test_flag").ok());
  EXPECT_EQ(FlagValue(*conn), 0);
  {
    ThreadFlagScope outer;
    EXPECT_EQ(FlagValue(*conn), 1);
    {
      ThreadFlagScope inner;
      EXPECT_EQ(FlagValue(*conn), 1);
    }
    EXPECT_EQ(FlagValue(*conn), 1);
    auto other = Connection::Open(**db);
    ASSERT_TRUE(other.ok());
    int64_t seen_elsewhere = -1;
    std::thread([&] { seen_elsewhere = FlagValue(*other); }).join();
    EXPECT_EQ(seen_elsewhere, 0);
  }
  EXPECT_EQ(FlagValue(*conn), 0);
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
