// Arrow IPC encoding and Flight tickets: messages are decoded back with the flatbuffer schema
// and their bodies checked byte by byte.
#include <Message_generated.h>
#include <Schema_generated.h>
#include <gtest/gtest.h>

#include <cstring>

#include "duck/connection.h"
#include "flight/arrow_ipc.h"
#include "flight/internal.h"
#include "flight/ipc_reader.h"
#include "flight/value_arrays.h"

namespace riffle::flight {
namespace {

namespace fb = riffle::arrowfb;
using query::Value;

const fb::Message* Decode(const std::string& header) {
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(header.data()), header.size());
  EXPECT_TRUE(fb::VerifyMessageBuffer(v));
  return fb::GetMessage(header.data());
}

// The values of one flat column of a decoded RecordBatch.
struct Column {
  std::vector<bool> valid;
  std::vector<std::string> strings;
  std::vector<int64_t> ints;
};

TEST(ArrowIpc, SchemaCarriesTypesNullabilityAndMetadata) {
  std::vector<WireColumn> cols = {
      {"time", "tsn:", {{"iox::column::type", "iox::column_type::timestamp"}}, false, {}},
      {"host", "u", {{"iox::column::type", "iox::column_type::tag"}}, true, {}},
      {"n", "l", {}, true, {}},
      {"u", "L", {}, true, {}},
      {"f", "g", {}, true, {}},
      {"b", "b", {}, true, {}},
      {"ts", "tsu:Etc/UTC", {}, true, {}},
  };
  IpcMessage m = SchemaMessage(cols);
  const fb::Message* msg = Decode(m.header);
  EXPECT_EQ(msg->version(), fb::MetadataVersion::V5);
  ASSERT_EQ(msg->header_type(), fb::MessageHeader::Schema);
  const auto* fields = msg->header_as_Schema()->fields();
  ASSERT_EQ(fields->size(), cols.size());
  EXPECT_EQ(fields->Get(0)->name()->str(), "time");
  EXPECT_FALSE(fields->Get(0)->nullable());
  ASSERT_EQ(fields->Get(0)->type_type(), fb::Type::Timestamp);
  EXPECT_EQ(fields->Get(0)->type_as_Timestamp()->unit(), fb::TimeUnit::NANOSECOND);
  EXPECT_EQ(fields->Get(0)->type_as_Timestamp()->timezone(), nullptr);
  EXPECT_EQ(fields->Get(0)->custom_metadata()->Get(0)->value()->str(),
            "iox::column_type::timestamp");
  EXPECT_EQ(fields->Get(1)->type_type(), fb::Type::Utf8);
  EXPECT_EQ(fields->Get(1)->custom_metadata()->Get(0)->key()->str(), "iox::column::type");
  EXPECT_EQ(fields->Get(2)->type_as_Int()->bit_width(), 64);
  EXPECT_TRUE(fields->Get(2)->type_as_Int()->is_signed());
  EXPECT_FALSE(fields->Get(3)->type_as_Int()->is_signed());
  EXPECT_EQ(fields->Get(4)->type_as_FloatingPoint()->precision(), fb::Precision::DOUBLE);
  EXPECT_EQ(fields->Get(5)->type_type(), fb::Type::Bool);
  EXPECT_EQ(fields->Get(6)->type_as_Timestamp()->timezone()->str(), "Etc/UTC");
  EXPECT_EQ(fields->Get(6)->type_as_Timestamp()->unit(), fb::TimeUnit::MICROSECOND);

  std::string framed = Encapsulate(m);
  uint32_t marker;
  int32_t length;
  std::memcpy(&marker, framed.data(), 4);
  std::memcpy(&length, framed.data() + 4, 4);
  EXPECT_EQ(marker, 0xFFFFFFFFu);
  EXPECT_EQ(length % 8, 0);
  EXPECT_EQ(framed.size(), 8u + static_cast<size_t>(length));
}

// Two chunks of 13 and 7 rows (neither a multiple of 8) become one batch: bitmaps shift, string
// offsets are rebased, and the null counts add up.
TEST(ArrowIpc, SlicesOfSeveralChunksConcatenate) {
  ValueArrays a({"u", "l", "b"}), b({"u", "l", "b"});
  std::vector<std::vector<Value>> expect;
  for (int i = 0; i < 13; ++i) {
    std::vector<Value> row = {i % 3 ? Value(std::string(static_cast<size_t>(i), 'a' + i)) : Value(),
                              i % 4 ? Value(int64_t{i}) : Value(), Value(i % 2 == 0)};
    a.AddRow(row);
    if (i >= 3) expect.push_back(row);
  }
  for (int i = 0; i < 7; ++i) {
    std::vector<Value> row = {Value("x" + std::to_string(i)), Value(int64_t{100 + i}),
                              i == 5 ? Value() : Value(true)};
    b.AddRow(row);
    expect.push_back(row);
  }
  std::vector<WireColumn> cols = {
      {"s", "u", {}, true, {}}, {"n", "l", {}, true, {}}, {"f", "b", {}, true, {}}};
  const ArrowArray& aa = a.Array();
  const ArrowArray& ba = b.Array();
  auto msg = RecordBatchMessage(cols, {{&aa, 3, 13}, {&ba, 0, 7}});
  ASSERT_TRUE(msg.ok()) << msg.status().message();
  const fb::Message* m = Decode(msg->header);
  ASSERT_EQ(m->header_type(), fb::MessageHeader::RecordBatch);
  const fb::RecordBatch* rb = m->header_as_RecordBatch();
  ASSERT_EQ(rb->length(), 17);
  EXPECT_EQ(m->body_length(), static_cast<int64_t>(msg->body.size()));
  ASSERT_EQ(rb->nodes()->size(), 3u);
  ASSERT_EQ(rb->buffers()->size(),
            7u);  // utf8: validity, offsets, data; int64 and bool: validity, values
  auto buf = [&](int i) {
    const fb::Buffer* b = rb->buffers()->Get(static_cast<flatbuffers::uoffset_t>(i));
    EXPECT_EQ(b->offset() % 8, 0);
    return std::string_view(msg->body.data() + b->offset(), static_cast<size_t>(b->length()));
  };
  auto bit = [](std::string_view bits, size_t i) {
    return bits.empty() || (bits[i / 8] >> (i % 8) & 1);
  };
  int64_t null_strings = 0, null_ints = 0, null_bools = 0;
  for (size_t r = 0; r < expect.size(); ++r) {
    const auto& row = expect[r];
    // strings
    std::string_view validity = buf(0), offsets = buf(1), data = buf(2);
    int32_t from, to;
    std::memcpy(&from, offsets.data() + 4 * r, 4);
    std::memcpy(&to, offsets.data() + 4 * (r + 1), 4);
    if (std::holds_alternative<std::monostate>(row[0])) {
      EXPECT_FALSE(bit(validity, r)) << r;
      ++null_strings;
    } else {
      EXPECT_TRUE(bit(validity, r)) << r;
      EXPECT_EQ(std::string(data.substr(static_cast<size_t>(from), static_cast<size_t>(to - from))),
                std::get<std::string>(row[0]))
          << r;
    }
    // ints
    int64_t v;
    std::memcpy(&v, buf(4).data() + 8 * r, 8);
    if (std::holds_alternative<std::monostate>(row[1])) {
      EXPECT_FALSE(bit(buf(3), r)) << r;
      ++null_ints;
    } else {
      EXPECT_EQ(v, std::get<int64_t>(row[1])) << r;
    }
    // bools
    if (std::holds_alternative<std::monostate>(row[2])) {
      EXPECT_FALSE(bit(buf(5), r)) << r;
      ++null_bools;
    } else {
      EXPECT_EQ(bit(buf(6), r), std::get<bool>(row[2])) << r;
    }
  }
  EXPECT_EQ(rb->nodes()->Get(0)->null_count(), null_strings);
  EXPECT_EQ(rb->nodes()->Get(1)->null_count(), null_ints);
  EXPECT_EQ(rb->nodes()->Get(2)->null_count(), null_bools);
  EXPECT_GT(null_strings, 0);
}

TEST(ArrowIpc, UnsupportedTypesAreNamed) {
  char name[] = "e", format[] = "tin";
  ArrowSchema child{format, name, nullptr, 2, 0, nullptr, nullptr, nullptr, nullptr};
  ArrowSchema* children[] = {&child};
  char top_format[] = "+s";
  ArrowSchema top{top_format, nullptr, nullptr, 0, 1, children, nullptr, nullptr, nullptr};
  auto cols = ColumnsOf(top);
  ASSERT_FALSE(cols.ok());
  EXPECT_NE(cols.status().message().find("column 'e'"), std::string::npos);
  EXPECT_NE(cols.status().message().find("CAST"), std::string::npos);
}

TEST(ArrowIpc, ParameterRowReadsBack) {
  ValueArrays p({"u", "l", "g", "b"});
  p.AddRow({Value(std::string("host-a")), Value(int64_t{-7}), Value(2.5), Value(true)});
  std::vector<WireColumn> cols = {{"host", "u", {}, true, {}},
                                  {"$n", "l", {}, true, {}},
                                  {"x", "g", {}, true, {}},
                                  {"ok", "b", {}, true, {}}};
  auto batch = RecordBatchMessage(cols, {{&p.Array(), 0, 1}});
  ASSERT_TRUE(batch.ok());
  IpcMessage schema = SchemaMessage(cols);
  auto row = ReadFirstRow({{schema.header, ""}, {batch->header, batch->body}});
  ASSERT_TRUE(row.ok()) << row.status().message();
  ASSERT_EQ(row->size(), 4u);
  EXPECT_EQ((*row)[0].first, "host");
  EXPECT_EQ(std::get<std::string>((*row)[0].second), "host-a");
  EXPECT_EQ((*row)[1].first, "n");  // a leading $ is dropped
  EXPECT_EQ(std::get<int64_t>((*row)[1].second), -7);
  EXPECT_EQ(std::get<double>((*row)[2].second), 2.5);
  EXPECT_EQ(std::get<bool>((*row)[3].second), true);
  EXPECT_FALSE(ReadFirstRow({{batch->header, batch->body}}).ok());  // no schema first
  EXPECT_FALSE(ReadFirstRow({{"garbage", ""}}).ok());
}

// A DuckDB VARCHAR vector's NULL slots keep whatever they held before: a length of 4 GiB in one
// once made the size estimate reserve gigabytes (and ASan builds stall filling them).
TEST(ArrowIpc, DuckStringNullsDoNotCountTowardsTheSize) {
  duck::VectorString strings[3] = {};
  strings[0].length = 2;
  std::memcpy(strings[0].prefix, "ab", 2);
  strings[1].length = 0xFFFFFFF0u;  // NULL: garbage
  strings[2].length = 1;
  std::memcpy(strings[2].prefix, "c", 1);
  uint64_t validity = 0b101;
  const void* child_buffers[2] = {&validity, strings};
  ArrowArray child{3, -1, 0, 2, 0, child_buffers, nullptr, nullptr, nullptr, nullptr};
  ArrowArray* children[1] = {&child};
  const void* struct_buffers[1] = {nullptr};
  ArrowArray array{3, 0, 0, 1, 1, struct_buffers, children, nullptr, nullptr, nullptr};
  std::vector<WireColumn> cols = {{"s", "duck:varchar", {}, true, {}}};
  EXPECT_LT(EncodedBytes(cols, array, 0, 3), 64u);
  EXPECT_LT(EncodedBytes(cols, array, 1, 3), 64u);
  auto batch = RecordBatchMessage(cols, {{&array, 0, 3}});
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_LT(batch->body.capacity(), 4096u);
}

TEST(Ticket, ParsesWhatClientsSend) {
  auto t = ParseTicket(
      R"({"database":"db","sql_query":"SELECT 1","query_type":"influxql","params":{"a":1}})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->database, "db");
  EXPECT_TRUE(t->influxql);
  EXPECT_EQ(t->params_json, R"({"a":1})");
  auto plain = ParseTicket(R"({"bucket":"b","sql_query":"SELECT 1"})");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->database, "b");
  EXPECT_FALSE(plain->influxql);
  auto round = ParseTicket(EncodeTicket(*t));
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(round->query, "SELECT 1");
  EXPECT_TRUE(round->influxql);
}

TEST(Ticket, ErrorsSayWhatWasExpected) {
  auto not_json = ParseTicket("\x0a\x03xyz");
  ASSERT_FALSE(not_json.ok());
  EXPECT_NE(not_json.status().message().find("expected UTF-8 JSON"), std::string::npos);
  auto no_query = ParseTicket(R"({"database":"db"})");
  ASSERT_FALSE(no_query.ok());
  EXPECT_NE(no_query.status().message().find("sql_query"), std::string::npos);
  auto bad_type = ParseTicket(R"({"database":"db","sql_query":"x","query_type":"flux"})");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("Expected 'sql' or 'influxql', got 'flux'"),
            std::string::npos);
  EXPECT_FALSE(ParseTicket(R"({"database":"db","sql_query":"x","params":[1]})").ok());
}

}  // namespace
}  // namespace riffle::flight
