#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>

#include "duck/connection.h"
#include "duck/database.h"
#include "duck/staged_rows.h"

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

// A database with the table function registered, as the buffer's has.
class StagedRowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Database::Open({});
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    db_ = std::move(opened).value();
    auto connected = Connection::Open(*db_);
    ASSERT_TRUE(connected.ok());
    conn = std::make_unique<Connection>(std::move(connected).value());
    ASSERT_TRUE(StagedRows::Register(*conn).ok());
  }
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> conn;
};

// Rows staged a few at a time fill chunks in place; SQL reads them with NULL cells, strings past
// DuckDB's 12 inline bytes, a column added later (NULL in older chunks) and arrival positions;
// deletes and a move into a table (INSERT ... BY NAME) leave the right rows.
TEST_F(StagedRowsTest, SqlReadsEveryCommittedRowMovesAndDeletesThem) {
  ASSERT_TRUE(StagedRows::Register(*conn).ok()) << "registering again is a no-op";
  std::vector<StagedRows::Column> columns = {{"time", ColumnKind::kTimestampNs},
                                             {"host", ColumnKind::kVarchar},
                                             {"v", ColumnKind::kDouble}};
  auto staged = StagedRows::Create(columns);
  int64_t next = 0;
  auto append = [&](size_t rows) {
    for (size_t start = 0; start < rows;) {
      size_t count = staged->Begin(rows - start);
      ASSERT_GE(count, 1u);
      int64_t* times = staged->Int64s(0);
      double* values = staged->Doubles(2);
      for (size_t r = 0; r < count; ++r, ++next) {
        times[r] = next;
        staged->SetValid(0, r);
        std::string host = next % 2 ? "a-host-name-longer-than-twelve-bytes" : "short";
        staged->SetString(1, r, host.data(), host.size());
        if (next % 3 == 0) continue;  // v stays NULL
        values[r] = static_cast<double>(next) / 2;
        staged->SetValid(2, r);
      }
      staged->Commit();
      start += count;
    }
  };
  append(5000);                                                          // three chunks
  for (int i = 0; i < 300; ++i) append(static_cast<size_t>(i % 7 + 1));  // in place, mostly
  const int64_t n = next;
  EXPECT_EQ(staged->rows(), static_cast<size_t>(n));
  const std::string check =
      "SELECT count(*), count(DISTINCT time), sum(epoch_ns(time)), count(v), "
      "sum(CASE WHEN v = epoch_ns(time) / 2 THEN 1 ELSE 0 END), "
      "sum(CASE WHEN host = (CASE WHEN epoch_ns(time) % 2 = 1 "
      "THEN 'a-host-name-longer-than-twelve-bytes' ELSE 'short' END) THEN 1 ELSE 0 END) FROM ";
  int64_t with_v = n - (n + 2) / 3;
  auto rows = conn->QueryInt64s(check + staged->ScanSql(false));
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ((*rows)[0], (std::vector<int64_t>{n, n, n * (n - 1) / 2, with_v, with_v, n}));
  // Positions follow arrival and start past any rowid.
  auto order = conn->QueryInt64s("SELECT count(*) FILTER (WHERE riffle_position - " +
                                 std::to_string(StagedRows::kFirstPosition) +
                                 " = epoch_ns(time)) FROM " + staged->ScanSql(true));
  ASSERT_TRUE(order.ok()) << order.status().message();
  EXPECT_EQ((*order)[0][0], n);

  // A column added: older rows read it as NULL, newer ones as written.
  columns.push_back({"extra", ColumnKind::kBigint});
  staged->SetColumns(columns);
  ASSERT_EQ(staged->Begin(1), 1u);
  staged->Int64s(0)[0] = next++;
  staged->SetValid(0, 0);
  staged->Int64s(3)[0] = 42;
  staged->SetValid(3, 0);
  staged->Commit();
  auto extra =
      conn->QueryInt64s("SELECT count(*), count(extra), sum(extra) FROM " + staged->ScanSql(false));
  ASSERT_TRUE(extra.ok()) << extra.status().message();
  EXPECT_EQ((*extra)[0], (std::vector<int64_t>{n + 1, 1, 42}));

  auto removed = staged->DeleteWhere(*conn, "host = 'short' AND v IS NULL");
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  auto expected_removed = conn->QueryInt64s("SELECT count(*) FROM range(" + std::to_string(n + 1) +
                                            ") t(i) WHERE i % 2 = 0 AND i % 3 = 0");
  ASSERT_TRUE(expected_removed.ok());
  EXPECT_EQ(*removed, (*expected_removed)[0][0]);
  EXPECT_EQ(staged->rows(), static_cast<size_t>(n + 1 - *removed));
  append(10);  // after a delete, into a new chunk

  ASSERT_TRUE(conn->Exec("CREATE TABLE t (time TIMESTAMP_NS, host VARCHAR, v DOUBLE, extra BIGINT, "
                         "later VARCHAR)")
                  .ok());
  ASSERT_TRUE(conn->Exec("INSERT INTO t BY NAME SELECT * FROM " + staged->ScanSql(false)).ok());
  size_t moved = staged->rows();
  staged->DropFront(staged->Snapshot().size());
  EXPECT_EQ(staged->rows(), 0u);
  auto in_table = conn->QueryInt64s("SELECT count(*), count(extra), count(later) FROM t");
  ASSERT_TRUE(in_table.ok());
  EXPECT_EQ((*in_table)[0], (std::vector<int64_t>{static_cast<int64_t>(moved), 1, 0}));
  auto none = conn->QueryInt64s("SELECT count(*) FROM " + staged->ScanSql(false));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)[0][0], 0);
}

// A move takes whole row groups from the front: the full chunks up to the last whole group;
// irregular chunks (a delete's) hold a move back until two groups' worth are staged.
TEST_F(StagedRowsTest, MovesTakeWholeGroupsFromTheFront) {
  auto staged = StagedRows::Create({{"time", ColumnKind::kTimestampNs}});
  const size_t capacity = StagedRows::ChunkRows();
  int64_t next = 0;
  auto append = [&](size_t rows) {
    for (size_t done = 0; done < rows;) {
      size_t n = staged->Begin(rows - done);
      for (size_t r = 0; r < n; ++r) {
        staged->Int64s(0)[r] = next++;
        staged->SetValid(0, r);
      }
      staged->Commit();
      done += n;
    }
  };
  const size_t group = 2 * capacity;
  append(group - 1);
  EXPECT_EQ(staged->FrontEntriesToMove(group), 0u) << "not a whole group yet";
  append(capacity + 101);  // three full chunks and 100 rows
  ASSERT_EQ(staged->FrontEntriesToMove(group), 2u);
  auto front = conn->QueryInt64s("SELECT count(*), min(epoch_ns(time)), max(epoch_ns(time)) FROM " +
                                 staged->ScanFrontSql(2));
  ASSERT_TRUE(front.ok()) << front.status().message();
  EXPECT_EQ((*front)[0], (std::vector<int64_t>{static_cast<int64_t>(group), 0,
                                               static_cast<int64_t>(group) - 1}));
  staged->DropFront(2);
  EXPECT_EQ(staged->rows(), capacity + 100);
  append(5);  // the open chunk goes on filling
  auto rest = conn->QueryInt64s("SELECT count(*), min(epoch_ns(time)), min(riffle_position) FROM " +
                                staged->ScanSql(true));
  ASSERT_TRUE(rest.ok()) << rest.status().message();
  EXPECT_EQ((*rest)[0],
            (std::vector<int64_t>{static_cast<int64_t>(capacity) + 105, static_cast<int64_t>(group),
                                  StagedRows::kFirstPosition}));
  // After a delete the chunks are irregular: nothing moves below two groups, then everything.
  ASSERT_TRUE(staged->DeleteWhere(*conn, "epoch_ns(time) % 1000 = 0").ok());
  EXPECT_EQ(staged->FrontEntriesToMove(group), 0u);
  append(2 * group);
  EXPECT_GT(staged->FrontEntriesToMove(group), 0u);
}

// Given a range in a session variable, a scan skips the chunks whose times all fall outside
// it, keeps the positions of the rest, and with the variable unset (NULL) reads every chunk;
// so do the chunks a delete rewrote.
TEST_F(StagedRowsTest, ARangeSkipsTheChunksOutsideIt) {
  auto staged =
      StagedRows::Create({{"v", ColumnKind::kBigint}, {"time", ColumnKind::kTimestampNs}});
  const int64_t capacity = static_cast<int64_t>(StagedRows::ChunkRows());
  int64_t next = 0;
  auto append = [&](size_t rows, int64_t time_base) {
    for (size_t done = 0; done < rows;) {
      size_t n = staged->Begin(rows - done);
      for (size_t r = 0; r < n; ++r, ++next) {
        staged->Int64s(0)[r] = next;
        staged->SetValid(0, r);
        staged->Int64s(1)[r] = time_base + next % capacity;  // a chunk's times: one base
        staged->SetValid(1, r);
      }
      staged->Commit();
      done += n;
    }
  };
  // Three chunks at times 1,000,000+, 2,000,000+ and 3,000,000+, the last filled in two commits.
  append(static_cast<size_t>(capacity), 1'000'000);
  append(static_cast<size_t>(capacity), 2'000'000);
  append(10, 3'000'000);
  append(static_cast<size_t>(capacity) - 10, 3'000'000);
  const std::string scan = staged->ScanSql(true, "range_of_test");
  const std::string sql = "SELECT count(*), min(v), min(riffle_position) FROM " + scan;
  auto read = [&](const std::string& value) {
    EXPECT_TRUE(conn->Exec("SET VARIABLE range_of_test = " + value).ok()) << value;
    auto rows = conn->QueryInt64s(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() ? (*rows)[0] : std::vector<int64_t>{};
  };
  const int64_t first = StagedRows::kFirstPosition;
  EXPECT_EQ(read("NULL"), (std::vector<int64_t>{3 * capacity, 0, first}));
  EXPECT_EQ(read("[2000000, 2000000]"),
            (std::vector<int64_t>{capacity, capacity, first + capacity}));
  // The range meets the second chunk's last time and the third's first.
  EXPECT_EQ(read("[" + std::to_string(2'000'000 + capacity - 1) + ", 3000000]"),
            (std::vector<int64_t>{2 * capacity, capacity, first + capacity}));
  EXPECT_EQ(read("[3000005, 9000000]"),
            (std::vector<int64_t>{capacity, 2 * capacity, first + 2 * capacity}));
  EXPECT_EQ(read("[0, 999999]")[0], 0);
  EXPECT_EQ(read("[5000000, 9000000]")[0], 0);
  // After a delete the rewritten chunks (DuckDB's result chunks, which may join the rows of
  // two) know their times too.
  ASSERT_TRUE(staged->DeleteWhere(*conn, "v % 2 = 1").ok());
  int64_t first_chunk = read("[1000000, 1000000]")[0];
  EXPECT_GE(first_chunk, capacity / 2);
  EXPECT_LT(first_chunk, 3 * capacity / 2);
  EXPECT_EQ(read("[5000000, 9000000]")[0], 0);
  EXPECT_EQ(read("NULL")[0], 3 * capacity / 2);
  // Without a variable the scan reads everything.
  auto all = conn->QueryInt64s("SELECT count(*) FROM " + staged->ScanSql(false));
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ((*all)[0][0], 3 * capacity / 2);
}

// The function reads only staged rows that exist; any other key is an error.
TEST_F(StagedRowsTest, TheFunctionKnowsOnlyLiveStagedRows) {
  auto staged = StagedRows::Create({{"time", ColumnKind::kTimestampNs}});
  std::string sql = "SELECT count(*) FROM " + staged->ScanSql(false);
  ASSERT_TRUE(conn->QueryInt64s(sql).ok());
  staged.reset();
  auto rows = conn->QueryInt64s(sql);
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("no staged rows have this key"), std::string::npos)
      << rows.status().message();
}

}  // namespace
}  // namespace riffle::duck
