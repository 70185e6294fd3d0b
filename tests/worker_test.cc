// The plugin worker channel's encoding: every message a call needs survives the trip, and a
// short or corrupt message is an error, never a crash (a plugin can write to its channel).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "lineproto/line_protocol.h"
#include "worker/wire.h"

namespace riffle::worker {
namespace {

TEST(WorkerWire, CodeContextAndOutcomeRoundTrip) {
  python::PluginCode code{"p.py", "/plugins/p.py", "def f(): pass\n", "", "", 42};
  python::CallContext ctx;
  ctx.trigger_name = "t";
  ctx.database = "db";
  ctx.cache_namespace = "db\x1ft";
  ctx.dry_run = true;
  ctx.args = std::map<std::string, std::string>{{"a", "1"}, {"empty", ""}};
  python::CallOutcome out;
  out.status = Status::InvalidArgument("ValueError: bad");
  out.traceback = "Traceback...";
  out.writes = {{"db", "m v=1", true, false}, {"other", "n v=2", false, true}};
  out.http_status = 418;
  out.http_body = std::string("\0binary\xff", 8);
  out.http_headers = {{"X-A", "b"}};

  Packer p(Msg::kCallScheduled, 7);
  PackCode(p, code);
  PackContext(p, ctx);
  PackOutcome(p, out);
  Unpacker u(p.body());
  EXPECT_EQ(u.type(), Msg::kCallScheduled);
  EXPECT_EQ(u.call(), 7u);
  python::PluginCode c = UnpackCode(u);
  EXPECT_EQ(c.filename, "p.py");
  EXPECT_EQ(c.source, code.source);
  EXPECT_EQ(c.version, 42);
  python::CallContext x = UnpackContext(u);
  EXPECT_EQ(x.cache_namespace, ctx.cache_namespace);
  EXPECT_TRUE(x.dry_run);
  ASSERT_TRUE(x.args);
  EXPECT_EQ(*x.args, *ctx.args);
  python::CallOutcome o = UnpackOutcome(u);
  EXPECT_EQ(o.status.code(), Code::kInvalidArgument);
  EXPECT_EQ(o.status.message(), "ValueError: bad");
  ASSERT_EQ(o.writes.size(), 2u);
  EXPECT_EQ(o.writes[1].database, "other");
  EXPECT_TRUE(o.writes[1].no_sync);
  EXPECT_TRUE(o.writes[0].sync);
  EXPECT_EQ(o.http_status, 418);
  EXPECT_EQ(o.http_body, out.http_body);
  EXPECT_EQ(o.http_headers, out.http_headers);
  EXPECT_TRUE(u.done());

  python::CallContext no_args;
  Packer q(Msg::kCallWrites, 1);
  PackContext(q, no_args);
  Unpacker v(q.body());
  EXPECT_FALSE(UnpackContext(v).args.has_value());
}

TEST(WorkerWire, TableRowsArriveAsWriteOps) {
  auto op = std::make_shared<wal::WriteOp>();
  op->body = std::make_shared<const std::string>(
      "cpu,host=a usage=1.5,n=-3i,u=7u,ok=t,s=\"q\\\"x\" 1\nmem free=2i 2\ncpu,host=b usage=2 3\n");
  op->batch = lineproto::Parse(*op->body);
  ASSERT_TRUE(op->batch.errors.empty());
  op->times = {10, 20, 30};
  std::vector<python::TableRows> tables = {{"cpu", {{op.get(), 0}, {op.get(), 2}}},
                                           {"mem", {{op.get(), 1}}}};
  Packer p(Msg::kCallWrites, 1);
  PackTables(p, tables);
  auto body = std::make_shared<const std::string>(p.body());
  Unpacker u(*body);
  UnpackedTables got = UnpackTables(u, body);
  ASSERT_EQ(got.tables.size(), 2u);
  EXPECT_EQ(got.tables[0].table, "cpu");
  ASSERT_EQ(got.tables[0].rows.size(), 2u);
  const auto& [first_op, first] = got.tables[0].rows[0];
  const auto& line = first_op->batch.lines[first];
  EXPECT_EQ(line.measurement, "cpu");
  ASSERT_EQ(line.tag_count, 1u);
  EXPECT_EQ(first_op->batch.tags_of(line)[0].value, "a");
  ASSERT_EQ(line.field_count, 5u);
  const auto* f = first_op->batch.fields_of(line);
  EXPECT_EQ(f[0].f, 1.5);
  EXPECT_EQ(f[1].i, -3);
  EXPECT_EQ(f[2].u, 7u);
  EXPECT_TRUE(f[3].b);
  EXPECT_EQ(f[4].s, "q\"x");
  EXPECT_EQ(first_op->times[first], 10);
  const auto& [second_op, second] = got.tables[0].rows[1];
  EXPECT_EQ(second_op->times[second], 30);
  EXPECT_EQ(got.tables[1].table, "mem");
  EXPECT_EQ(got.tables[1].rows[0].first->times[0], 20);
}

TEST(WorkerWire, BatchesAndParamsKeepEveryValueType) {
  query::Batch batch;
  batch.rows = 2;
  batch.columns = {{query::Value(int64_t{-1}), query::Value(std::monostate{})},
                   {query::Value(uint64_t{18446744073709551615ull}), query::Value(true)},
                   {query::Value(0.25), query::Value(std::string("s"))},
                   {query::Value(query::Timestamp{5}), query::Value(false)}};
  query::Params params = {
      {"a", std::string("x")}, {"b", int64_t{3}}, {"c", 1.5}, {"d", true}, {"e", std::monostate{}}};
  Packer p(Msg::kQueryBatch, 3);
  PackBatch(p, batch);
  PackParams(p, params);
  Unpacker u(p.body());
  query::Batch b = UnpackBatch(u);
  ASSERT_EQ(b.rows, 2u);
  EXPECT_EQ(b.columns, batch.columns);
  EXPECT_EQ(UnpackParams(u), params);
  EXPECT_TRUE(u.done());
}

TEST(WorkerWire, EveryTruncationIsAnErrorNotACrash) {
  python::CallOutcome out;
  out.status = Status::Internal("x");
  out.writes = {{"db", "m v=1", false, false}};
  out.http_headers = {{"k", "v"}};
  Packer p(Msg::kOutcome, 9);
  PackOutcome(p, out);
  const std::string& full = p.body();
  for (size_t n = 0; n < full.size(); ++n) {
    std::string cut = full.substr(0, n);
    EXPECT_THROW(
        {
          Unpacker u(cut);
          UnpackOutcome(u);
        },
        std::runtime_error)
        << "prefix of " << n << " bytes";
  }
  std::string bad_tag = Packer(Msg::kQueryBatch, 1).U32(1).U32(1).U8(200).body();
  Unpacker u(bad_tag);
  EXPECT_THROW(UnpackBatch(u), std::runtime_error);
}

TEST(WorkerWire, FramesOverASocketPair) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::string big(3 << 20, 'x');
  big[0] = static_cast<char>(Msg::kLog);
  std::thread writer([&] {
    ASSERT_TRUE(SendFrame(sv[0], big).ok());
    ASSERT_TRUE(SendFrame(sv[0], Packer(Msg::kReady, 0).body()).ok());
    uint32_t bogus = 0;
    ASSERT_EQ(write(sv[0], &bogus, sizeof bogus), 4);
  });
  auto first = ReceiveFrame(sv[1]);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, big);
  auto second = ReceiveFrame(sv[1]);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(Unpacker(*second).type(), Msg::kReady);
  writer.join();
  auto third = ReceiveFrame(sv[1]);
  EXPECT_EQ(third.status().code(), Code::kInternal);  // a zero length is no frame
  close(sv[0]);
  auto closed = ReceiveFrame(sv[1]);
  EXPECT_EQ(closed.status().code(), Code::kUnavailable);
  close(sv[1]);
}

}  // namespace
}  // namespace riffle::worker
