#include "wal/wal.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "common/log.h"
#include "common/metrics.h"

namespace riffle::wal {

Wal::Wal(objstore::ObjectStore* store, WalOptions options)
    : store_(store), options_(std::move(options)) {}

Wal::~Wal() { Stop(); }

std::string Wal::FilePath(uint64_t sequence) const {
  char name[32];
  std::snprintf(name, sizeof name, "%011llu.wal", static_cast<unsigned long long>(sequence));
  return options_.node_id + "/wal/" + name;
}

Status Wal::Replay(const ReplayApply& apply, uint64_t skip_through, ReplayProgress* progress) {
  auto keys = store_->List(options_.node_id + "/wal/");
  if (!keys.ok()) return keys.status();
  // Numbers a snapshot covered are never reused, even when their files are all deleted
  // (--snapshotted-wal-files-to-keep 0): a reused number would be skipped by the next replay.
  next_sequence_ = std::max(next_sequence_, skip_through + 1);
  struct File {
    std::string key;
    uint64_t sequence;
    Result<std::vector<WriteOpPtr>> ops = std::vector<WriteOpPtr>();
    std::shared_ptr<std::string> contents;
    bool ready = false;
  };
  DecodeRecycler recycler;
  std::vector<File> files;
  for (const auto& key : *keys) {
    if (key.size() < 4 || key.compare(key.size() - 4, 4, ".wal") != 0) continue;
    // The sequence comes from the name so that a corrupt file still reserves its number.
    uint64_t seq = std::strtoull(key.c_str() + key.rfind('/') + 1, nullptr, 10);
    next_sequence_ = std::max(next_sequence_, seq + 1);
    if (seq > skip_through) files.push_back({key, seq});
  }
  if (progress) progress->files_total = files.size();
  // Decoding (reading the object, checking it, parsing its lines again) runs on a few threads
  // a bounded window ahead of the caller, which applies the files in order.
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
  // Decoded files take about three times their size in memory: a window of one file per
  // thread keeps replay's peak near the ingest's (the buffer's appends, not decoding, set the
  // pace, so a longer one gained nothing).
  const size_t window = threads;
  std::mutex mu;
  std::condition_variable cv;
  size_t next_to_decode = 0, applied = 0;
  bool stop = false;
  auto decoder = [&] {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || (next_to_decode < files.size() && next_to_decode < applied + window); });
      if (stop || next_to_decode >= files.size()) return;
      File& f = files[next_to_decode++];
      lock.unlock();
      auto contents = recycler.TakeBuffer();
      Status read = store_->GetInto(f.key, contents.get());
      Result<std::vector<WriteOpPtr>> ops =
          read.ok() ? DecodeWalFile(contents, nullptr, &recycler)
                    : Result<std::vector<WriteOpPtr>>(
                          Status::IOError("cannot read it: " + read.message()));
      lock.lock();
      f.ops = std::move(ops);
      f.contents = std::move(contents);
      f.ready = true;
      cv.notify_all();
    }
  };
  std::vector<std::thread> workers;
  for (size_t i = 0; i < std::min(threads, files.size()); ++i) workers.emplace_back(decoder);
  Status failed;
  for (size_t i = 0; i < files.size(); ++i) {
    Result<std::vector<WriteOpPtr>> ops = std::vector<WriteOpPtr>();
    std::shared_ptr<std::string> contents;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return files[i].ready; });
      ops = std::move(files[i].ops);
      files[i].ops = std::vector<WriteOpPtr>();  // its memory goes with the caller's copy
      contents = std::move(files[i].contents);
    }
    if (!ops.ok() && options_.replay_fail_on_error) {
      failed = Status::IOError("WAL file " + files[i].key +
                               " cannot be replayed: " + ops.status().message() +
                               " (--wal-replay-fail-on-error is set; without it the file is "
                               "logged and skipped)");
      break;
    }
    if (!ops.ok()) {
      log::Error("skipping WAL file " + files[i].key + ": " + ops.status().message());
    } else {
      apply(files[i].sequence, std::move(*ops));
      recycler.Give(*ops, std::move(contents));
    }
    {
      std::lock_guard lock(mu);
      ++applied;
    }
    cv.notify_all();
    if (progress) ++progress->files_done;
  }
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  cv.notify_all();
  for (auto& w : workers) w.join();
  return failed;
}

void Wal::DeleteThrough(uint64_t through, size_t keep) {
  auto keys = store_->List(options_.node_id + "/wal/");
  if (!keys.ok()) return;
  std::vector<std::string> covered;
  for (const auto& key : *keys) {
    uint64_t seq = std::strtoull(key.c_str() + key.rfind('/') + 1, nullptr, 10);
    if (seq <= through) covered.push_back(key);
  }
  if (covered.size() <= keep) return;
  covered.resize(covered.size() - keep);  // keys are sorted: drop the oldest
  for (const auto& key : covered)
    if (Status st = store_->Delete(key); !st.ok())
      log::Warn("cannot delete WAL file " + key + ": " + st.message());
}

void Wal::Start(FlushListener listener, FlushListener released) {
  listener_ = std::move(listener);
  released_ = std::move(released);
  apply_thread_ = std::thread([this] { ApplyLoop(); });
  thread_ = std::thread([this] { FlushLoop(); });
}

void Wal::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(apply_mu_);
    apply_stopping_ = true;
  }
  apply_cv_.notify_all();
  if (apply_thread_.joinable()) apply_thread_.join();  // after the files still waiting
}

void Wal::ApplyLoop() {
  for (;;) {
    Durable file;
    {
      std::unique_lock lock(apply_mu_);
      apply_cv_.wait(lock, [this] { return apply_stopping_ || !durable_.empty(); });
      if (durable_.empty()) return;
      file = std::move(durable_.front());
      durable_.pop_front();
    }
    apply_cv_.notify_all();
    if (listener_) listener_(file.sequence, file.flushed_at, file.ops);
    for (auto& d : file.dones)
      if (d) d(Status::Ok());
    if (released_) released_(file.sequence, file.flushed_at, file.ops);
  }
}

Status Wal::Submit(WriteOpPtr op, Done done) {
  std::lock_guard lock(mu_);
  if (stopping_) return Status::Unavailable("server is shutting down; write not accepted");
  if (pending_.size() >= options_.max_pending_ops)
    return Status::Unavailable("WAL buffer is full (" + std::to_string(options_.max_pending_ops) +
                               " pending writes); retry later");
  bool was_idle = pending_.empty();
  pending_bytes_ += op->body->size();
  pending_.push_back(std::move(op));
  pending_done_.push_back(std::move(done));
  if (options_.flush_bytes && pending_bytes_ >= options_.flush_bytes && !flush_now_) {
    flush_now_ = true;
    cv_.notify_all();
  } else if (was_idle) {
    cv_.notify_all();  // the flush thread sleeps while nothing is queued
  }
  return Status::Ok();
}

bool Wal::Backlogged() {
  std::lock_guard lock(mu_);
  size_t limit = std::max<size_t>(options_.flush_bytes, 1 << 20) * 8;
  return pending_bytes_ > limit;
}

void Wal::FlushLoop() {
  const auto gap = std::min(options_.min_gap, options_.flush_interval);
  auto last_start = std::chrono::steady_clock::now() - gap;
  for (;;) {
    bool stop;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      cv_.wait_until(lock, last_start + gap, [this] { return stopping_ || flush_now_; });
      stop = stopping_;
    }
    last_start = std::chrono::steady_clock::now();
    FlushOnce();
    if (stop) return;
  }
}

void Wal::FlushOnce() {
  std::vector<WriteOpPtr> ops;
  std::vector<Done> dones;
  {
    std::lock_guard lock(mu_);
    ops.swap(pending_);
    dones.swap(pending_done_);
    pending_bytes_ = 0;
    flush_now_ = false;
  }
  if (ops.empty()) return;
  uint64_t seq = next_sequence_;
  auto started = std::chrono::steady_clock::now();
  std::string file = EncodeWalFile(seq, ops);
  Status st;
  // Transient object-store errors are retried briefly; after that the writers get the error
  // (the server stays up and later flushes try again).
  for (int attempt = 0; attempt < 5; ++attempt) {
    st = store_->PutIfAbsent(FilePath(seq), file);
    if (st.ok()) break;
    if (st.code() == Code::kAlreadyExists) {
      // After a failed attempt the file may be ours (written, then the directory sync failed).
      auto existing = store_->Get(FilePath(seq));
      if (attempt > 0 && existing.ok() && *existing == file)
        st = Status::Ok();
      else
        ++next_sequence_;  // another process wrote it: never overwrite its data
      break;
    }
    // A remote store has retried with back-off already; retrying it again would hold the
    // writers for several times --object-store-retry-timeout.
    if (st.code() == Code::kUnavailable) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto& m = metrics::Server();
  m.wal_flushes.With({st.ok() ? "ok" : "error"}).Add();
  if (st.ok()) {
    m.wal_flush_bytes.With({}).Add(file.size());
    m.wal_flush_duration.With({}).Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  if (!st.ok()) {
    log::Error("WAL flush failed: " + st.message());
    Status failure = Status::IOError("write was not persisted: WAL flush failed: " + st.message());
    for (auto& d : dones)
      if (d) d(failure);
    return;
  }
  ++next_sequence_;
  // The listener (the buffer's append) takes this file while the next flush is written. One
  // file at most waits for it, which bounds the memory held and keeps the order.
  {
    std::unique_lock lock(apply_mu_);
    apply_cv_.wait(lock, [this] { return durable_.empty(); });
    durable_.push_back({seq, started, std::move(ops), std::move(dones)});
  }
  apply_cv_.notify_all();
}

}  // namespace riffle::wal
