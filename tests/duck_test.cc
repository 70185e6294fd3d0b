#include <gtest/gtest.h>

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

}  // namespace
}  // namespace riffle::duck
