#include "wal/wal.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/crc32.h"

namespace riffle::wal {
namespace {

WriteOpPtr MakeOp(const std::string& db, const std::string& lp, int64_t base_time) {
  auto op = std::make_shared<WriteOp>();
  op->db_id = 7;
  op->db_name = db;
  op->body = std::make_shared<const std::string>(lp);
  op->batch = lineproto::Parse(*op->body);
  for (size_t i = 0; i < op->batch.lines.size(); ++i) op->times.push_back(base_time + static_cast<int64_t>(i));
  return op;
}

TEST(WalFile, RoundTripsOpsLinesAndTimes) {
  auto a = MakeOp("db", "cpu,host=a v=1\nmem,host=b free=2i,s=\"x \\\"y\\\"\"", 100);
  auto b = MakeOp("other", "m f=true", 5);
  std::string file = EncodeWalFile(42, {a, b});
  uint64_t seq = 0;
  auto decoded = DecodeWalFile(file, &seq);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(seq, 42u);
  ASSERT_EQ(decoded->size(), 2u);
  const WriteOp& d = *(*decoded)[0];
  EXPECT_EQ(d.db_name, "db");
  EXPECT_EQ(d.db_id, 7u);
  ASSERT_EQ(d.batch.lines.size(), 2u);
  EXPECT_EQ(d.times, (std::vector<int64_t>{100, 101}));
  EXPECT_EQ(d.batch.fields_of(d.batch.lines[1])[1].s, "x \"y\"");
  EXPECT_EQ((*decoded)[1]->batch.fields_of((*decoded)[1]->batch.lines[0])[0].b, true);
}

TEST(DecodeRecycler, ReusesOnlyWritesAndBuffersNothingElseHolds) {
  DecodeRecycler recycler;
  std::string file = EncodeWalFile(
      1, {MakeOp("db", "cpu,host=a v=1\ncpu,host=b v=2", 10), MakeOp("db", "mem free=3i", 20)});
  auto buffer = recycler.TakeBuffer();
  *buffer = file;
  auto first = DecodeWalFile(buffer, nullptr, &recycler);
  ASSERT_TRUE(first.ok()) << first.status().message();
  const WriteOp* kept_op = (*first)[1].get();
  WriteOpPtr kept = (*first)[1];  // as replay keeps a row delete
  const WriteOp* reused_op = (*first)[0].get();
  recycler.Give(*first, buffer);
  EXPECT_TRUE(first->empty());
  // The buffer is still held (here, and by the write kept above): a new one is made.
  EXPECT_NE(recycler.TakeBuffer().get(), buffer.get());
  auto again = DecodeWalFile(std::make_shared<const std::string>(file), nullptr, &recycler);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].get(), reused_op);  // the free write, emptied and filled again
  EXPECT_NE((*again)[1].get(), kept_op);
  EXPECT_EQ((*again)[0]->batch.lines.size(), 2u);
  EXPECT_EQ((*again)[0]->times, (std::vector<int64_t>{10, 11}));
  EXPECT_EQ((*again)[1]->batch.fields_of((*again)[1]->batch.lines[0])[0].i, 3);
  EXPECT_EQ(kept->batch.fields_of(kept->batch.lines[0])[0].i, 3);  // the held write is intact
  // Once nothing points into it, the buffer is reused too.
  std::vector<WriteOpPtr> none;
  kept.reset();
  const std::string* buffer_address = buffer.get();
  recycler.Give(none, std::move(buffer));
  EXPECT_EQ(recycler.TakeBuffer().get(), buffer_address);
}

TEST(WalFile, RoundTripsARowDeleteBetweenWrites) {
  auto del = std::make_shared<WriteOp>();
  del->db_id = 7;
  del->db_name = "db";
  del->body = std::make_shared<const std::string>();
  auto rd = std::make_shared<RowDelete>();
  rd->sequence = 12;
  rd->table_id = 3;
  rd->table_name = "cpu";
  rd->min_time = -5;
  rd->max_time = INT64_MAX;
  rd->tags = {{"host", "a"}, {"region", ""}};
  rd->predicate = "host = 'a' AND region = ''";
  rd->created_ns = 99;
  del->row_delete = rd;
  std::string file =
      EncodeWalFile(4, {MakeOp("db", "cpu v=1", 1), del, MakeOp("db", "cpu v=2", 2)});
  auto decoded = DecodeWalFile(file, nullptr);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ASSERT_EQ(decoded->size(), 3u);
  EXPECT_FALSE((*decoded)[0]->row_delete);
  EXPECT_EQ((*decoded)[2]->batch.lines.size(), 1u);
  const WriteOp& d = *(*decoded)[1];
  ASSERT_TRUE(d.row_delete);
  EXPECT_TRUE(d.batch.lines.empty());
  EXPECT_EQ(d.db_name, "db");
  EXPECT_EQ(d.row_delete->sequence, 12u);
  EXPECT_EQ(d.row_delete->table_id, 3u);
  EXPECT_EQ(d.row_delete->table_name, "cpu");
  EXPECT_EQ(d.row_delete->min_time, -5);
  EXPECT_EQ(d.row_delete->max_time, INT64_MAX);
  EXPECT_EQ(d.row_delete->tags, rd->tags);
  EXPECT_EQ(d.row_delete->predicate, rd->predicate);
  EXPECT_EQ(d.row_delete->created_ns, 99);
}

// WAL files and checksummed metadata written while Riffle used zlib's crc32() still open.
TEST(WalFile, ChecksumIsZlibsCrc32) {
  std::string data;
  for (int i = 0; i < 100'000; ++i) data.push_back(static_cast<char>(i * 131 + i / 7));
  for (size_t len : {size_t{0}, size_t{1}, size_t{15}, size_t{64}, size_t{4097}, data.size()}) {
    std::string_view part(data.data(), len);
    EXPECT_EQ(Crc32(part), crc32(0L, reinterpret_cast<const Bytef*>(part.data()), part.size()))
        << len;
  }
}

// Files written before row deletes (version 1: no kind byte per op) still replay.
TEST(WalFile, ReadsVersionOneFiles) {
  std::string payload;
  auto put32 = [&](uint32_t v) { payload.append(reinterpret_cast<const char*>(&v), 4); };
  put32(1);  // ops
  put32(7);  // db id
  put32(2);  // name length
  payload += "db";
  put32(1);  // lines
  int64_t t = 123;
  payload.append(reinterpret_cast<const char*>(&t), 8);
  put32(7);
  payload += "cpu v=1";
  std::string file = "RFLWAL01";
  uint32_t version = 1, length = static_cast<uint32_t>(payload.size());
  uint64_t seq = 9;
  auto crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), payload.size()));
  file.append(reinterpret_cast<const char*>(&version), 4);
  file.append(reinterpret_cast<const char*>(&seq), 8);
  file.append(reinterpret_cast<const char*>(&length), 4);
  file.append(reinterpret_cast<const char*>(&crc), 4);
  file += payload;
  uint64_t got = 0;
  auto decoded = DecodeWalFile(file, &got);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(got, 9u);
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ((*decoded)[0]->times, std::vector<int64_t>{123});
  EXPECT_EQ((*decoded)[0]->batch.lines.size(), 1u);
}

// The header of a file: magic, version, sequence, payload length and its CRC-32 (and, from
// version 3, the payload's length before compression).
std::string Header(uint32_t version, uint64_t seq, std::string_view stored,
                   std::optional<uint32_t> plain_length = std::nullopt) {
  std::string file = "RFLWAL01";
  auto put = [&](const auto& v) { file.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(version);
  put(seq);
  put(static_cast<uint32_t>(stored.size()));
  put(Crc32(stored));
  if (plain_length) put(*plain_length);
  return file;
}

TEST(WalFile, CompressesThePayload) {
  std::string lp;
  for (int i = 0; i < 2000; ++i)
    lp += "cpu,hostname=host_" + std::to_string(i % 100) +
          ",region=eu-west-1,datacenter=eu-west-1a usage_user=" + std::to_string(i % 97) +
          ".5,usage_system=" + std::to_string(i % 13) + ".25\n";
  std::string file = EncodeWalFile(5, {MakeOp("db", lp, 1000)});
  uint32_t version;
  std::memcpy(&version, file.data() + 8, 4);
  EXPECT_EQ(version, 3u);
  EXPECT_LT(file.size(), lp.size() / 4) << "a WAL file of " << lp.size() << " bytes of lines";
  uint64_t seq = 0;
  auto decoded = DecodeWalFile(file, &seq);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(seq, 5u);
  ASSERT_EQ(decoded->size(), 1u);
  const WriteOp& op = *(*decoded)[0];
  ASSERT_EQ(op.batch.lines.size(), 2000u);
  EXPECT_EQ(op.times.front(), 1000);
  EXPECT_EQ(op.times.back(), 2999);
  EXPECT_EQ(op.batch.lines[1999].raw,
            "cpu,hostname=host_99,region=eu-west-1,datacenter=eu-west-1a usage_user=59.5,"
            "usage_system=10.25");
}

// Files written before the WAL was compressed still replay.
TEST(WalFile, ReadsUncompressedVersion2Files) {
  std::string payload;
  auto put = [&](const auto& v) { payload.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(uint32_t{1});  // ops
  put(uint8_t{0});   // a write
  put(uint32_t{7});  // db id
  put(uint32_t{2});
  payload += "db";
  put(uint32_t{2});  // lines
  put(int64_t{10});
  put(uint32_t{7});
  payload += "cpu v=1";
  put(int64_t{11});
  put(uint32_t{11});
  payload += "cpu v=2,w=3";
  auto decoded = DecodeWalFile(Header(2, 8, payload) + payload, nullptr);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ((*decoded)[0]->times, (std::vector<int64_t>{10, 11}));
  EXPECT_EQ((*decoded)[0]->batch.lines[1].raw, "cpu v=2,w=3");
}

TEST(WalFile, RefusesAPayloadThatDoesNotDecompressOrIsOfAnotherSize) {
  std::string garbage = "not zstd at all";
  auto bad = DecodeWalFile(Header(3, 1, garbage, 100) + garbage, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("WAL file payload does not decompress"), std::string::npos)
      << bad.status().message();
  // A valid file whose header claims another length before compression.
  std::string file = EncodeWalFile(1, {MakeOp("db", "cpu v=1", 1)});
  uint32_t plain_length;
  std::memcpy(&plain_length, file.data() + 28, 4);
  std::string stored = file.substr(32);
  auto wrong = DecodeWalFile(Header(3, 1, stored, plain_length + 1) + stored, nullptr);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("header says " + std::to_string(plain_length + 1)),
            std::string::npos)
      << wrong.status().message();
  auto future = DecodeWalFile(Header(4, 1, stored, plain_length) + stored, nullptr);
  ASSERT_FALSE(future.ok());
  EXPECT_NE(future.status().message().find("unsupported WAL version 4"), std::string::npos);
}

TEST(DecodeRecycler, TakesTheSmallestBufferThatFitsElseTheLargest) {
  DecodeRecycler recycler;
  std::vector<const std::string*> by_size;
  for (size_t size : {size_t{1000}, size_t{100'000}, size_t{10'000}}) {
    auto b = std::make_shared<std::string>();
    b->reserve(size);
    by_size.push_back(b.get());
    std::vector<WriteOpPtr> none;
    recycler.Give(none, std::move(b));
  }
  EXPECT_EQ(recycler.TakeBuffer(5'000).get(), by_size[2]);      // 10,000 fits best
  EXPECT_EQ(recycler.TakeBuffer(1'000'000).get(), by_size[1]);  // none fits: the largest
  EXPECT_EQ(recycler.TakeBuffer().get(), by_size[0]);           // the one left
}

TEST(DecodeRecycler, ReusesTheDecompressedPayloadOnceNoWriteHoldsIt) {
  DecodeRecycler recycler;
  std::string file = EncodeWalFile(1, {MakeOp("db", "cpu,host=a v=1\ncpu,host=b v=2", 10)});
  auto contents = recycler.TakeBuffer();
  *contents = file;
  auto ops = DecodeWalFile(contents, nullptr, &recycler);
  ASSERT_TRUE(ops.ok()) << ops.status().message();
  const std::string* payload = const_cast<std::string*>((*ops)[0]->body.get());
  EXPECT_NE(payload, contents.get());  // the lines lie in the decompressed payload
  const std::string* file_buffer = contents.get();
  recycler.Give(*ops, std::move(contents));
  std::set<const std::string*> reused = {recycler.TakeBuffer().get(), recycler.TakeBuffer().get()};
  EXPECT_EQ(reused, (std::set<const std::string*>{payload, file_buffer}));
}

TEST(WalFile, DetectsTruncationAndCorruption) {
  std::string file = EncodeWalFile(1, {MakeOp("db", "cpu v=1", 1)});
  EXPECT_FALSE(DecodeWalFile(file.substr(0, file.size() / 2), nullptr).ok());
  std::string flipped = file;
  flipped.back() ^= 0x20;
  EXPECT_FALSE(DecodeWalFile(flipped, nullptr).ok());
  EXPECT_FALSE(DecodeWalFile("nonsense", nullptr).ok());
}

TEST(Wal, AcknowledgesAfterDurableFlushAndReplaysInOrder) {
  auto store = objstore::NewMemoryStore();
  std::atomic<int> flushed_lines{0};
  {
    Wal wal(store.get(), {"node0", std::chrono::milliseconds(10), 1000});
    ASSERT_TRUE(wal.Replay([](uint64_t, std::vector<WriteOpPtr>&&) {}).ok());
    wal.Start([&](uint64_t, auto, const std::vector<WriteOpPtr>& ops) {
      for (const auto& op : ops) flushed_lines += static_cast<int>(op->batch.lines.size());
    });
    std::promise<Status> done;
    ASSERT_TRUE(wal.Submit(MakeOp("db", "a v=1\nb v=2", 1), [&](Status st) { done.set_value(st); }).ok());
    ASSERT_TRUE(done.get_future().get().ok());
    EXPECT_EQ(flushed_lines.load(), 2);  // the listener ran before the acknowledgement
    ASSERT_TRUE(wal.Submit(MakeOp("db", "c v=3", 3), nullptr).ok());
    wal.Stop();  // flushes what is queued
  }
  auto files = store->List("node0/wal/");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 2u);
  std::vector<std::string> measurements;
  Wal replay(store.get(), {"node0", std::chrono::milliseconds(10), 1000});
  ASSERT_TRUE(replay.Replay([&](uint64_t, std::vector<WriteOpPtr>&& ops) {
    for (const auto& op : ops)
      for (const auto& l : op->batch.lines) measurements.emplace_back(l.measurement);
  }).ok());
  EXPECT_EQ(measurements, (std::vector<std::string>{"a", "b", "c"}));
}

// The next file is written while the listener takes the last one; the listener still sees the
// files in order, and a write is acknowledged only after the listener saw it.
TEST(Wal, WritesTheNextFileWhileTheListenerTakesTheLastOne) {
  auto store = objstore::NewMemoryStore();
  Wal wal(store.get(),
          {"node0", std::chrono::milliseconds(1000), 1000, 4 << 20, std::chrono::milliseconds(0)});
  ASSERT_TRUE(wal.Replay([](uint64_t, std::vector<WriteOpPtr>&&) {}).ok());
  std::promise<void> release;
  auto released = release.get_future().share();
  std::mutex mu;
  std::vector<uint64_t> seen;
  std::vector<std::chrono::steady_clock::time_point> flushed;
  wal.Start([&](uint64_t sequence, auto flushed_at, const std::vector<WriteOpPtr>&) {
    {
      std::lock_guard lock(mu);
      seen.push_back(sequence);
      flushed.push_back(flushed_at);
    }
    if (sequence == 1) released.wait_for(std::chrono::seconds(30));
  });
  std::promise<Status> first, second;
  ASSERT_TRUE(wal.Submit(MakeOp("db", "a v=1", 1), [&](Status st) { first.set_value(st); }).ok());
  auto second_done = second.get_future();
  // Submitted once the first file is with the listener: it cannot join that file.
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mu);
      if (!seen.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(wal.Submit(MakeOp("db", "b v=2", 2), [&](Status st) { second.set_value(st); }).ok());
  size_t files = 0;
  for (int i = 0; i < 500 && files < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto listed = store->List("node0/wal/");
    files = listed.ok() ? listed->size() : 0;
  }
  EXPECT_EQ(files, 2u);  // written while the listener still holds the first
  EXPECT_EQ(second_done.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  auto released_at = std::chrono::steady_clock::now();
  release.set_value();
  EXPECT_TRUE(first.get_future().get().ok());
  EXPECT_TRUE(second_done.get().ok());
  wal.Stop();
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
  // The listener learns when the second file was written, not when it got to it (the
  // persister's flush periods count from that time).
  ASSERT_EQ(flushed.size(), 2u);
  EXPECT_LT(flushed[1], released_at);
}

// How flushes form (wal.h): at once when idle, whatever arrived during a flush together in the
// next one, and never two starts closer than the minimum gap.
// A memory store whose first PutIfAbsent (the first WAL file) waits until released.
class FirstPutWaits final : public objstore::ObjectStore {
 public:
  Status Put(const std::string& path, std::string_view data) override {
    return inner_->Put(path, data);
  }
  Status PutIfAbsent(const std::string& path, std::string_view data) override {
    if (first_.exchange(false)) {
      in_first_put.set_value();
      released_.wait_for(std::chrono::seconds(30));
    }
    return inner_->PutIfAbsent(path, data);
  }
  Result<std::string> Get(const std::string& path) override { return inner_->Get(path); }
  Status Delete(const std::string& path) override { return inner_->Delete(path); }
  Result<std::vector<std::string>> List(const std::string& prefix) override {
    return inner_->List(prefix);
  }
  void Release() { release_.set_value(); }
  std::promise<void> in_first_put;

 private:
  std::unique_ptr<objstore::ObjectStore> inner_ = objstore::NewMemoryStore();
  std::atomic<bool> first_{true};
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
};

TEST(Wal, FlushesAnIdleWriteAtOnceAndGroupsWritesThatArriveDuringAFlush) {
  FirstPutWaits store;
  using std::chrono::hours;
  using std::chrono::milliseconds;
  Wal wal(&store, {"node0", std::chrono::duration_cast<milliseconds>(hours(1)), 1000, 4 << 20,
                   milliseconds(0)});
  ASSERT_TRUE(wal.Replay([](uint64_t, std::vector<WriteOpPtr>&&) {}).ok());
  std::mutex mu;
  std::vector<size_t> ops_per_flush;
  wal.Start([&](uint64_t, auto, const std::vector<WriteOpPtr>& ops) {
    std::lock_guard lock(mu);
    ops_per_flush.push_back(ops.size());
  });
  std::promise<Status> first;
  ASSERT_TRUE(wal.Submit(MakeOp("db", "a v=1", 1), [&](Status st) { first.set_value(st); }).ok());
  // A one-hour interval: only an immediate flush writes a file (the wait is a bound, so that
  // the old behaviour fails instead of hanging).
  ASSERT_EQ(store.in_first_put.get_future().wait_for(std::chrono::seconds(30)),
            std::future_status::ready);
  std::vector<std::promise<Status>> later(3);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(
        wal.Submit(MakeOp("db", "b v=2", 2 + i), [&, i](Status st) { later[i].set_value(st); })
            .ok());
  store.Release();
  ASSERT_TRUE(first.get_future().get().ok());
  for (auto& p : later) ASSERT_TRUE(p.get_future().get().ok());  // the next flush started by itself
  wal.Stop();
  EXPECT_EQ(ops_per_flush, (std::vector<size_t>{1, 3}));
}

// The second listener runs after the writers were released (their acknowledgement does not
// wait for it), for each file in order, after the first listener saw that file.
TEST(Wal, TheReleasedListenerRunsAfterTheWritersAreReleased) {
  auto store = objstore::NewMemoryStore();
  Wal wal(store.get(),
          {"node0", std::chrono::milliseconds(1), 1000, 4 << 20, std::chrono::milliseconds(0)});
  ASSERT_TRUE(wal.Replay([](uint64_t, std::vector<WriteOpPtr>&&) {}).ok());
  std::mutex mu;
  std::vector<std::string> events;
  std::promise<void> released_once;
  std::atomic<bool> blocked{true};
  wal.Start(
      [&](uint64_t seq, auto, const std::vector<WriteOpPtr>&) {
        std::lock_guard lock(mu);
        events.push_back("seen " + std::to_string(seq));
      },
      [&](uint64_t seq, auto, const std::vector<WriteOpPtr>&) {
        {
          std::lock_guard lock(mu);
          events.push_back("released " + std::to_string(seq));
        }
        if (blocked.exchange(false)) released_once.set_value();
      });
  std::promise<Status> done;
  ASSERT_TRUE(wal.Submit(MakeOp("db", "a v=1", 1),
                         [&](Status st) {
                           std::lock_guard lock(mu);
                           events.push_back("done");
                           done.set_value(st);
                         })
                  .ok());
  ASSERT_TRUE(done.get_future().get().ok());
  ASSERT_EQ(released_once.get_future().wait_for(std::chrono::seconds(30)),
            std::future_status::ready);
  wal.Stop();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(std::vector<std::string>(events.begin(), events.begin() + 3),
            (std::vector<std::string>{"seen 1", "done", "released 1"}));
}

TEST(Wal, KeepsTheMinimumGapBetweenFlushes) {
  auto store = objstore::NewMemoryStore();
  auto hour = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::hours(1));
  std::vector<size_t> ops_per_flush;
  {
    Wal wal(store.get(), {"node0", hour, 1000, 4 << 20, hour});
    ASSERT_TRUE(wal.Replay([](uint64_t, std::vector<WriteOpPtr>&&) {}).ok());
    wal.Start([&](uint64_t, auto, const std::vector<WriteOpPtr>& ops) {
      ops_per_flush.push_back(ops.size());
    });
    std::promise<Status> first;
    ASSERT_TRUE(wal.Submit(MakeOp("db", "a v=1", 1), [&](Status st) { first.set_value(st); }).ok());
    auto acked = first.get_future();
    ASSERT_EQ(acked.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    ASSERT_TRUE(acked.get().ok());  // idle: flushed at once despite the gap
    ASSERT_TRUE(wal.Submit(MakeOp("db", "b v=2", 2), nullptr).ok());
    ASSERT_TRUE(wal.Submit(MakeOp("db", "c v=3", 3), nullptr).ok());
    wal.Stop();  // the gap held both: one flush at the stop
  }
  EXPECT_EQ(ops_per_flush, (std::vector<size_t>{1, 2}));
}

TEST(Wal, SkipsACorruptFileAndKeepsTheRest) {
  auto store = objstore::NewMemoryStore();
  ASSERT_TRUE(store->Put("node0/wal/00000000001.wal", EncodeWalFile(1, {MakeOp("db", "a v=1", 1)})).ok());
  ASSERT_TRUE(store->Put("node0/wal/00000000002.wal", "truncated").ok());
  ASSERT_TRUE(store->Put("node0/wal/00000000003.wal", EncodeWalFile(3, {MakeOp("db", "c v=1", 1)})).ok());
  int ops = 0;
  Wal wal(store.get(), {"node0", std::chrono::milliseconds(10), 1000});
  ASSERT_TRUE(wal.Replay([&](uint64_t, std::vector<WriteOpPtr>&& file) { ops += static_cast<int>(file.size()); }).ok());
  EXPECT_EQ(ops, 2);
  EXPECT_EQ(wal.FilePath(4), "node0/wal/00000000004.wal");
}

// Files are decoded by several threads but applied in sequence order, each once.
TEST(Wal, ReplaysManyFilesInOrderAndCountsProgress) {
  auto store = objstore::NewMemoryStore();
  for (uint64_t i = 1; i <= 200; ++i) {
    char key[40];
    std::snprintf(key, sizeof key, "node0/wal/%011llu.wal", static_cast<unsigned long long>(i));
    ASSERT_TRUE(store->Put(key, EncodeWalFile(i, {MakeOp("db", "m v=" + std::to_string(i), 1)})).ok());
  }
  Wal wal(store.get(), {"node0", std::chrono::milliseconds(10), 1000});
  Wal::ReplayProgress progress;
  std::vector<uint64_t> sequences;
  std::vector<double> values;
  ASSERT_TRUE(wal.Replay([&](uint64_t seq, std::vector<WriteOpPtr>&& ops) {
    sequences.push_back(seq);
    EXPECT_EQ(progress.files_done.load(), sequences.size() - 1);
    for (const auto& op : ops) values.push_back(op->batch.fields[0].f);
  }, /*skip_through=*/50, &progress).ok());
  ASSERT_EQ(sequences.size(), 150u);
  for (size_t i = 0; i < sequences.size(); ++i) {
    EXPECT_EQ(sequences[i], 51 + i);
    EXPECT_EQ(values[i], static_cast<double>(51 + i));
  }
  EXPECT_EQ(progress.files_total.load(), 150u);
  EXPECT_EQ(progress.files_done.load(), 150u);
  EXPECT_EQ(wal.FilePath(201), "node0/wal/00000000201.wal");
}

// Every WAL file a snapshot covered was deleted (--snapshotted-wal-files-to-keep 0): the next
// file must not reuse a covered number, or the next replay would skip it as persisted.
TEST(Wal, NeverReusesASequenceASnapshotCovered) {
  auto store = objstore::NewMemoryStore();
  Wal wal(store.get(), {"node0", std::chrono::milliseconds(10), 1000});
  ASSERT_TRUE(wal.Replay([](uint64_t, std::vector<WriteOpPtr>&&) {}, /*skip_through=*/7).ok());
  wal.Start(nullptr);
  std::promise<Status> done;
  ASSERT_TRUE(wal.Submit(MakeOp("db", "a v=1", 1), [&](Status st) { done.set_value(st); }).ok());
  ASSERT_TRUE(done.get_future().get().ok());
  wal.Stop();
  auto files = store->List("node0/wal/");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(*files, (std::vector<std::string>{"node0/wal/00000000008.wal"}));
}

}  // namespace
}  // namespace riffle::wal
