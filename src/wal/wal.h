// Write-ahead log: batches writes and makes them durable as one object-store file per flush.
//
// File `{node}/wal/{seq:011}.wal`: "RFLWAL01" magic, u32 version, u64 sequence, u32 payload
// length, u32 CRC32 of the payload, payload. The payload lists, per op, its kind (version 2; a
// version-1 file holds writes only), the database (id and name) and then for a write every
// accepted line as (resolved timestamp ns, raw line text), for a row delete its request. Replay
// re-parses the raw lines, so the WAL never needs its own value encoding.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "lineproto/line_protocol.h"
#include "objstore/object_store.h"

namespace riffle::wal {

// A row delete request: the rows of one table with `min_time <= time <= max_time` whose tags
// equal every one of `tags` (a tag compared with "" also matches rows without it). It travels
// through the WAL between the writes, so the buffer, a replay and a snapshot all see it in the
// order it was acknowledged: it removes the rows written before it and none written after.
struct RowDelete {
  uint64_t sequence = 0;  // the request's number (system.row_deletes)
  uint32_t table_id = 0;
  std::string table_name;
  int64_t min_time = INT64_MIN, max_time = INT64_MAX;  // both inclusive
  std::vector<std::pair<std::string, std::string>> tags;
  std::string predicate;  // as the user wrote it, for system.row_deletes
  int64_t created_ns = 0;
};

// One WAL entry: an accepted write — the lines of `batch` (which point into `body`) with their
// times — or, when `row_delete` is set, a row delete (its `body` empty, its batch without lines).
struct WriteOp {
  uint32_t db_id = 0;
  std::string db_name;
  std::shared_ptr<const std::string> body;
  lineproto::ParsedBatch batch;  // only accepted lines; errors are not kept
  std::vector<int64_t> times;    // nanoseconds, one per batch.lines entry
  // One per batch.lines entry, lineproto::SeriesHash of its tags, when whoever built the op
  // computed them (off the buffer's lock: a request's thread, a replay's decoder); else empty.
  std::vector<uint64_t> series;
  std::shared_ptr<const RowDelete> row_delete;
};
using WriteOpPtr = std::shared_ptr<const WriteOp>;

// Memory that a replay passes from decoded file to decoded file: writes whose vectors keep
// their capacity, and file buffers. Decoding into fresh memory faulted in about 1 KB of pages
// per line, over a gigabyte for a million lines, and that was a third of replay's time.
class DecodeRecycler {
 public:
  std::shared_ptr<WriteOp> TakeOp();  // empty, from a recycled write when there is one
  // A buffer to fill with `at_least` bytes: the smallest kept one that holds them, else the
  // largest, else a new one.
  std::shared_ptr<std::string> TakeBuffer(size_t at_least = 0);
  // Takes back the writes of `ops` that nothing else holds, and then `buffer` if none of the
  // writes still left point into it.
  void Give(std::vector<WriteOpPtr>& ops, std::shared_ptr<std::string> buffer);

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<WriteOp>> ops_;
  // A file in flight holds two (its compressed bytes and their payload); more kept buffers only
  // raise replay's peak memory.
  static constexpr size_t kKeptBuffers = 4;
  std::vector<std::shared_ptr<std::string>> buffers_;
};

// Encoding, exposed for tests and replay.
std::string EncodeWalFile(uint64_t sequence, const std::vector<WriteOpPtr>& ops);
Result<std::vector<WriteOpPtr>> DecodeWalFile(const std::string& contents, uint64_t* sequence);
// The same without a copy: the decoded writes' lines point into `contents`, which they keep;
// their memory comes from `recycler` when given.
Result<std::vector<WriteOpPtr>> DecodeWalFile(std::shared_ptr<const std::string> contents,
                                              uint64_t* sequence,
                                              DecodeRecycler* recycler = nullptr);

// How flushes form (group commit): a write to an idle WAL is flushed at once; writes that arrive
// while a flush runs go together into the next one, which starts when it ends, but never sooner
// than `min_gap` after the previous flush started (each flush is one object-store file, and on
// S3 one PUT). A writer therefore waits at most min_gap plus one flush.
struct WalOptions {
  std::string node_id = "node0";
  std::chrono::milliseconds flush_interval{1000};  // the longest gap: min_gap never exceeds it
  size_t max_pending_ops = 100000;
  // Flush without waiting out min_gap once this many bytes are queued. 0 disables it.
  size_t flush_bytes = 4 << 20;
  std::chrono::milliseconds min_gap{10};
  // Replay stops at a corrupt file with an error instead of logging and skipping it.
  bool replay_fail_on_error = false;
};

class Wal {
 public:
  // Called after a WAL file is durable, before its writers are released, for one file after
  // another in order, on a thread of its own: the flush of the next writes overlaps it, so the
  // listener may run later than the flush did (`flushed_at` tells when it started).
  using FlushListener =
      std::function<void(uint64_t sequence, std::chrono::steady_clock::time_point flushed_at,
                         const std::vector<WriteOpPtr>& ops)>;
  // Replays every WAL file in order, skipping those whose data a snapshot already persisted
  // (sequence ≤ skip_through); corrupt files are logged and skipped.
  using Done = std::function<void(Status)>;

  Wal(objstore::ObjectStore* store, WalOptions options);
  ~Wal();

  // Replays every WAL file after `skip_through` in sequence order: files are read and decoded
  // by a few threads ahead of `apply`, which gets each file's ops on the calling thread.
  // Corrupt files are logged and skipped (an error, with options.replay_fail_on_error). Sets the
  // next sequence number. Must be called before
  // Start(). `progress`, when given, counts the files as they are applied.
  struct ReplayProgress {
    std::atomic<size_t> files_total{0}, files_done{0};
  };
  // The ops `apply` leaves in the vector, and does not hold on to, are reused for later files.
  using ReplayApply = std::function<void(uint64_t sequence, std::vector<WriteOpPtr>&& ops)>;
  Status Replay(const ReplayApply& apply, uint64_t skip_through = 0,
                ReplayProgress* progress = nullptr);
  // Deletes WAL files with sequence ≤ `through` (their data is persisted), keeping the newest
  // `keep` of them.
  void DeleteThrough(uint64_t through, size_t keep);

  // `released`, when given, is called for each file after `listener` and after its writers
  // were released: work the acknowledgement need not wait for.
  void Start(FlushListener listener, FlushListener released = nullptr);
  // Flushes what is queued and stops the flush thread.
  void Stop();

  // Queues an op for the next flush; `done` (may be empty) runs after it is durable and the
  // listener has seen it, or with an error if the WAL could not be written.
  Status Submit(WriteOpPtr op, Done done);

  std::string FilePath(uint64_t sequence) const;

  // True when more than a few flushes' worth of writes are queued; `no_sync` writers are then
  // made to wait for the flush too, so a fast client cannot queue unbounded memory.
  bool Backlogged();

 private:
  void FlushLoop();
  void FlushOnce();
  void ApplyLoop();  // runs the listener, then releases the writers, file by file

  objstore::ObjectStore* store_;
  WalOptions options_;
  FlushListener listener_;
  FlushListener released_;
  uint64_t next_sequence_ = 1;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<WriteOpPtr> pending_;
  std::vector<Done> pending_done_;
  size_t pending_bytes_ = 0;
  bool flush_now_ = false;  // enough bytes queued: flush without waiting out the gap
  std::thread thread_;

  struct Durable {  // a file written, waiting for the listener
    uint64_t sequence = 0;
    std::chrono::steady_clock::time_point flushed_at;
    std::vector<WriteOpPtr> ops;
    std::vector<Done> dones;
  };
  std::mutex apply_mu_;
  std::condition_variable apply_cv_;
  std::deque<Durable> durable_;  // in sequence order
  bool apply_stopping_ = false;
  std::thread apply_thread_;
};

}  // namespace riffle::wal
