#include <gtest/gtest.h>

#include "rowdelete/row_deleter.h"

namespace riffle::rowdelete {
namespace {

TEST(DeletePredicate, ReadsTagEqualityJoinedByAnd) {
  auto tags = ParsePredicate(R"(host = "a" AND region='us-west' and "rack id"="r\"1")");
  ASSERT_TRUE(tags.ok()) << tags.status().message();
  EXPECT_EQ(*tags, (TagEquals{{"host", "a"}, {"region", "us-west"}, {"rack id", "r\"1"}}));
  EXPECT_TRUE(ParsePredicate("")->empty());
  EXPECT_TRUE(ParsePredicate("   ")->empty());
}

TEST(DeletePredicate, TakesInfluxDB2sMeasurementOnlyWhereAsked) {
  std::string measurement;
  auto tags = ParsePredicate(R"(_measurement="cpu" AND host="a")", &measurement);
  ASSERT_TRUE(tags.ok()) << tags.status().message();
  EXPECT_EQ(measurement, "cpu");
  EXPECT_EQ(*tags, (TagEquals{{"host", "a"}}));
  EXPECT_FALSE(ParsePredicate(R"(_measurement="cpu")").ok());
  std::string other;
  EXPECT_FALSE(ParsePredicate(R"(_measurement="a" AND _measurement="b")", &other).ok());
}

TEST(DeletePredicate, RefusesWhatItCannotDeleteByNamingIt) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c :
       {Case{R"(host = "a" OR host = "b")", "OR is not supported"},
        Case{R"(host != "a")", "operator '!='"}, Case{"host = a", "in quotes"},
        Case{"v = 1", "in quotes"}, Case{R"(host == "a")", "expected '='"},
        Case{R"(host = "a)", "unterminated"}, Case{R"(host = "a" region = "b")", "expected AND"},
        Case{R"(host = "a" AND)", "at the end"},
        Case{R"(_field = "usage")", "_field cannot be compared"},
        Case{R"(host = "a" AND host = "b")", "two values"}}) {
    auto r = ParsePredicate(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos)
        << c.text << ": " << r.status().message();
    EXPECT_NE(r.status().message().find("expected tag = \"value\""), std::string::npos);
  }
}

TEST(DeleteTime, ReadsRfc3339AndNanoseconds) {
  EXPECT_EQ(*ParseTime("0"), 0);
  EXPECT_EQ(*ParseTime("-5"), -5);
  EXPECT_EQ(*ParseTime("1700000000123456789"), 1700000000123456789);
  EXPECT_EQ(*ParseTime("1970-01-01T00:00:01Z"), 1'000'000'000);
  EXPECT_EQ(*ParseTime("2023-11-14T22:13:20Z"), 1'700'000'000'000'000'000);
  EXPECT_EQ(*ParseTime("2023-11-14T22:13:20.5Z"), 1'700'000'000'500'000'000);
  EXPECT_EQ(*ParseTime("2023-11-14T22:13:20.123456789123z"), 1'700'000'000'123'456'789);
  EXPECT_EQ(*ParseTime("2023-11-14T23:13:20+01:00"), 1'700'000'000'000'000'000);
  EXPECT_EQ(*ParseTime("2023-11-14T21:13:20-01:00"), 1'700'000'000'000'000'000);
  EXPECT_EQ(*ParseTime("2023-11-14"), 1'699'920'000'000'000'000);
  EXPECT_EQ(*ParseTime("1969-12-31T23:59:59Z"), -1'000'000'000);
  for (const char* bad :
       {"", "yesterday", "2023-11-14T22:13:20", "2023-13-01", "2023-11-14T25:00:00Z",
        "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20Zjunk", "12abc", "99999999999999999999"}) {
    auto r = ParseTime(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("RFC 3339"), std::string::npos);
  }
}

}  // namespace
}  // namespace riffle::rowdelete
