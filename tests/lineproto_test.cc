#include "lineproto/line_protocol.h"

#include <gtest/gtest.h>

namespace riffle::lineproto {
namespace {

TEST(Parse, AllFieldTypes) {
  auto b = Parse("m,t=x f=1.5,i=-3i,u=7u,bt=t,bf=FALSE,s=\"a b\" 123");
  ASSERT_TRUE(b.errors.empty()) << b.errors[0].message;
  ASSERT_EQ(b.lines.size(), 1u);
  const Line& l = b.lines[0];
  EXPECT_EQ(l.measurement, "m");
  ASSERT_EQ(l.tag_count, 1u);
  EXPECT_EQ(b.tags_of(l)[0].value, "x");
  const Field* f = b.fields_of(l);
  ASSERT_EQ(l.field_count, 6u);
  EXPECT_EQ(f[0].type, FieldType::kFloat);
  EXPECT_DOUBLE_EQ(f[0].f, 1.5);
  EXPECT_EQ(f[1].type, FieldType::kInteger);
  EXPECT_EQ(f[1].i, -3);
  EXPECT_EQ(f[2].type, FieldType::kUInteger);
  EXPECT_EQ(f[2].u, 7u);
  EXPECT_TRUE(f[3].b);
  EXPECT_FALSE(f[4].b);
  EXPECT_EQ(f[5].s, "a b");
  EXPECT_EQ(l.timestamp, 123);
}

TEST(Parse, FloatForms) {
  for (const char* v : {"1", "-1.5", "1e3", "1.5E-3", ".5", "+2"}) {
    auto b = Parse(std::string("m f=") + v);
    EXPECT_TRUE(b.errors.empty()) << v;
  }
  for (const char* v : {"inf", "nan", "1.2.3", "abc", "1x"}) {
    auto b = Parse(std::string("m f=") + v);
    EXPECT_EQ(b.errors.size(), 1u) << v;
  }
}

TEST(Parse, Escapes) {
  auto b = Parse("my\\ m\\,x,t\\ k=v\\,a\\=b\\\\c f\\=k=\"q\\\"uote\\\\\" 1");
  ASSERT_TRUE(b.errors.empty()) << b.errors[0].message;
  const Line& l = b.lines[0];
  EXPECT_EQ(l.measurement, "my m,x");
  EXPECT_EQ(b.tags_of(l)[0].key, "t k");
  EXPECT_EQ(b.tags_of(l)[0].value, "v,a=b\\c");
  EXPECT_EQ(b.fields_of(l)[0].key, "f=k");
  EXPECT_EQ(b.fields_of(l)[0].s, "q\"uote\\");
}

TEST(Parse, NewlineInsideAStringDoesNotEndTheLine) {
  auto b = Parse("m s=\"two\nlines\" 1\nm s=\"x\" 2\n");
  ASSERT_TRUE(b.errors.empty());
  ASSERT_EQ(b.lines.size(), 2u);
  EXPECT_EQ(b.fields_of(b.lines[0])[0].s, "two\nlines");
}

TEST(Parse, CommentsAndBlankLinesDoNotCount) {
  auto b = Parse("# comment\n\n  \nm v=1\r\nbad\nm v=2\n");
  ASSERT_EQ(b.lines.size(), 2u);
  EXPECT_EQ(b.lines[0].line_number, 1u);
  EXPECT_EQ(b.lines[1].line_number, 3u);
  ASSERT_EQ(b.errors.size(), 1u);
  EXPECT_EQ(b.errors[0].line_number, 2u);
  EXPECT_EQ(b.errors[0].original_line, "bad");
}

TEST(Parse, Errors) {
  struct Case {
    const char* line;
    const char* message_part;
  } cases[] = {
      {"m", "No fields were provided"},
      {"m,t=a,t=b v=1", "Must not contain duplicate tags, but `t` was repeated"},
      {"m v=1,v=2", "multiple instances of 'v' field found"},
      {"m v=99999999999999999999i", "Unable to parse integer"},
      {"m v=-1u", "Unable to parse unsigned"},
      {"m v=1 12 extra", "trailing content"},
      {"m v=1 abc", "timestamp"},
      {"m v=\"open", "unterminated"},
      {"m,t v=1", "no value"},
      {",t=a v=1", "measurement"},
      {"m v\\", "backslash"},
      {"m v=1\\", "invalid field value"},
  };
  for (const auto& c : cases) {
    auto b = Parse(c.line);
    ASSERT_EQ(b.errors.size(), 1u) << c.line;
    EXPECT_NE(b.errors[0].message.find(c.message_part), std::string::npos) << c.line << ": " << b.errors[0].message;
    EXPECT_TRUE(b.lines.empty());
  }
}

TEST(Parse, OriginalLineIsTruncatedAtACharacterBoundary) {
  auto b = Parse("measurement_with_\xc3\xa9\xc3\xa9 broken");
  ASSERT_EQ(b.errors.size(), 1u);
  EXPECT_LE(b.errors[0].original_line.size(), 20u);
  EXPECT_EQ(b.errors[0].original_line, "measurement_with_\xc3\xa9");
}

TEST(Parse, InvalidUtf8IsALineError) {
  auto b = Parse("m,t=\xff v=1\nm v=2");
  EXPECT_EQ(b.errors.size(), 1u);
  EXPECT_EQ(b.lines.size(), 1u);
}

TEST(Parse, BadLinesDoNotDisturbTheFlatArrays) {
  auto b = Parse("a,x=1 v=1\nb,y=2,y=3 w=1\nc,z=3 u=1");
  ASSERT_EQ(b.lines.size(), 2u);
  EXPECT_EQ(b.tags_of(b.lines[1])[0].key, "z");
  EXPECT_EQ(b.fields_of(b.lines[1])[0].key, "u");
}

TEST(Precision, Names) {
  EXPECT_EQ(*ParsePrecision("auto"), Precision::kAuto);
  EXPECT_EQ(*ParsePrecision("s"), Precision::kSecond);
  EXPECT_EQ(*ParsePrecision("millisecond"), Precision::kMillisecond);
  EXPECT_EQ(*ParsePrecision("u"), Precision::kMicrosecond);
  EXPECT_EQ(*ParsePrecision("n"), Precision::kNanosecond);
  EXPECT_FALSE(ParsePrecision("h").ok());
}

TEST(Precision, ExplicitAndAuto) {
  EXPECT_EQ(*ToNanoseconds(2, Precision::kSecond), 2000000000);
  EXPECT_EQ(*ToNanoseconds(2, Precision::kMillisecond), 2000000);
  EXPECT_EQ(*ToNanoseconds(2, Precision::kMicrosecond), 2000);
  EXPECT_EQ(*ToNanoseconds(2, Precision::kNanosecond), 2);
  EXPECT_EQ(*ToNanoseconds(1700000000, Precision::kAuto), 1700000000000000000);
  EXPECT_EQ(*ToNanoseconds(1700000000123, Precision::kAuto), 1700000000123000000);
  EXPECT_EQ(*ToNanoseconds(1700000000123456, Precision::kAuto), 1700000000123456000);
  EXPECT_EQ(*ToNanoseconds(1700000000123456789, Precision::kAuto), 1700000000123456789);
  EXPECT_EQ(*ToNanoseconds(-1, Precision::kAuto), -1000000000);
  auto overflow = ToNanoseconds(INT64_MAX / 10, Precision::kSecond);
  ASSERT_FALSE(overflow.ok());
  EXPECT_NE(overflow.status().message().find("out of range for precision"), std::string::npos);
}

TEST(Precision, DefaultTimeIsTruncated) {
  EXPECT_EQ(TruncateToPrecision(1234567891, Precision::kSecond), 1000000000);
  EXPECT_EQ(TruncateToPrecision(1234567891, Precision::kMillisecond), 1234000000);
  EXPECT_EQ(TruncateToPrecision(1234567891, Precision::kAuto), 1234567891);
}

TEST(Escaping, RoundTripsThroughTheParser) {
  std::string line;
  AppendEscapedMeasurement(line, "m, x");
  line += ",";
  AppendEscapedKeyOrTagValue(line, "k =,\\");
  line += "=";
  AppendEscapedKeyOrTagValue(line, "v =,\\");
  line += " f=\"";
  AppendEscapedStringField(line, "s\"\\ ");
  line += "\"";
  auto b = Parse(line);
  ASSERT_TRUE(b.errors.empty()) << b.errors[0].message << " in " << line;
  EXPECT_EQ(b.lines[0].measurement, "m, x");
  EXPECT_EQ(b.tags_of(b.lines[0])[0].key, "k =,\\");
  EXPECT_EQ(b.tags_of(b.lines[0])[0].value, "v =,\\");
  EXPECT_EQ(b.fields_of(b.lines[0])[0].s, "s\"\\ ");
}

}  // namespace
}  // namespace riffle::lineproto

namespace riffle::lineproto {
namespace {

TEST(SameShape, ComparesMeasurementKeysOrderAndFieldTypes) {
  ParsedBatch b = Parse(
      "cpu,host=a,region=w u=1,n=2i 1\n"
      "cpu,host=b,region=e u=5,n=7i 2\n"  // the same shape: other values
      "cpu,region=w,host=a u=1,n=2i 3\n"  // tag keys in another order
      "cpu,host=a,region=w u=1,n=2 4\n"   // n a float
      "mem,host=a,region=w u=1,n=2i 5\n"  // another measurement
      "cpu,host=a,region=w u=1 6\n");     // a field fewer
  ASSERT_EQ(b.lines.size(), 6u);
  EXPECT_TRUE(SameShape(b, b.lines[0], b, b.lines[1], true));
  EXPECT_FALSE(SameShape(b, b.lines[0], b, b.lines[2], true));
  EXPECT_FALSE(SameShape(b, b.lines[0], b, b.lines[3], true));
  EXPECT_TRUE(SameShape(b, b.lines[0], b, b.lines[3], false));  // keys alone
  EXPECT_FALSE(SameShape(b, b.lines[0], b, b.lines[4], false));
  EXPECT_FALSE(SameShape(b, b.lines[0], b, b.lines[5], false));
  ParsedBatch other = Parse("cpu,host=z,region=q u=9,n=1i 7");
  EXPECT_TRUE(SameShape(b, b.lines[0], other, other.lines[0], true));  // across batches
}

}  // namespace
}  // namespace riffle::lineproto

namespace riffle::lineproto {
namespace {

TEST(Parse, EachLineSaysWhetherItHasThePreviousAcceptedLinesShape) {
  auto b = Parse("m,a=1 v=1\nm,a=2 v=2\nm,b=1 v=1\nm,b=1 v=1i\nbad line\nm,b=1 v=2i\nn,b=1 v=2i");
  ASSERT_EQ(b.lines.size(), 6u);
  std::vector<bool> flags;
  for (const auto& l : b.lines) flags.push_back(l.same_shape_as_previous);
  // New tag key, then a new field type: other shapes; the bad line is not compared with.
  EXPECT_EQ(flags, (std::vector<bool>{false, true, false, false, true, false}));
  for (size_t i = 1; i < b.lines.size(); ++i)
    EXPECT_EQ(flags[i], SameShape(b, b.lines[i - 1], b, b.lines[i], true)) << i;
}

TEST(Parse, ParseLineReadsOneLineAsParseWould) {
  ParsedBatch batch;
  EXPECT_TRUE(ParseLine("cpu,host=a v=1.5,s=\"x\ny\" 10", 1, &batch));
  EXPECT_FALSE(ParseLine("cpu v=", 2, &batch));
  ASSERT_EQ(batch.lines.size(), 1u);
  ASSERT_EQ(batch.errors.size(), 1u);
  EXPECT_EQ(batch.errors[0].line_number, 2u);
  EXPECT_EQ(batch.fields_of(batch.lines[0])[1].s, "x\ny");
  EXPECT_EQ(*batch.lines[0].timestamp, 10);
}

TEST(SeriesHash, IsThatOfTheTagSetInAnyOrder) {
  auto b = Parse("m,a=1,b=2 v=1\nm,b=2,a=1 v=1\nm,a=2,b=1 v=1");
  auto hash = [&](size_t i) { return SeriesHash(b.tags_of(b.lines[i]), b.lines[i].tag_count); };
  EXPECT_EQ(hash(0), hash(1));
  EXPECT_NE(hash(0), hash(2));
}

}  // namespace
}  // namespace riffle::lineproto
