// Sending a result over DoGet. DuckDB produces 2,048-row chunks; each becomes a few tens of KiB
// of Arrow, and a message per chunk spends more on gRPC framing and wake-ups than on the data.
// So chunks are gathered into ~1 MiB RecordBatches (never over 4 MiB, which gRPC clients refuse
// by default), and encoded on a producer thread while the call's thread sends the previous
// message: DuckDB and the network work at the same time, and at most two encoded messages
// wait, so memory stays flat however long the result.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "flight/internal.h"

namespace riffle::flight {
namespace {

constexpr size_t kTargetMessageBytes = 192 << 10;
constexpr size_t kQueuedMessages = 2;

class Pipeline {
 public:
  Pipeline(ArrowSource& source, query::Cancellation& cancel)
      : source_(source), cancel_(cancel), columns_(source.columns()) {}
  ~Pipeline() {
    Stop();
    if (thread_.joinable()) thread_.join();
  }

  void Start() {
    thread_ = std::thread([this] { Produce(); });
  }

  // The next message, or nullopt at the end (then `status()` tells how it ended).
  std::optional<IpcMessage> Pop() {
    std::unique_lock lock(mu_);
    ready_.wait(lock, [&] { return !queue_.empty() || done_; });
    if (queue_.empty()) return std::nullopt;
    IpcMessage m = std::move(queue_.front());
    queue_.pop_front();
    space_.notify_one();
    return m;
  }

  // Ends production early (the client went away); DuckDB is interrupted.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stop_ || done_) return;
      stop_ = true;
    }
    space_.notify_all();
    cancel_.Cancel();
  }

  Status status() {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  void Produce() {
    Status st = Run();
    std::lock_guard lock(mu_);
    status_ = st;
    done_ = true;
    ready_.notify_all();
  }

  Status Run() {
    std::vector<std::unique_ptr<duck::OwnedArrowArray>> held;
    std::vector<Slice> pending;
    size_t pending_bytes = 0;
    auto flush = [&]() -> Status {
      if (pending.empty()) return Status::Ok();
      RIFFLE_ASSIGN_OR_RETURN(IpcMessage m, RecordBatchMessage(columns_, pending));
      pending.clear();
      pending_bytes = 0;
      held.clear();
      return Push(std::move(m));
    };
    for (;;) {
      auto chunk = std::make_unique<duck::OwnedArrowArray>();
      RIFFLE_ASSIGN_OR_RETURN(bool more, source_.Next(chunk.get()));
      if (!more) break;
      const ArrowArray& array = **chunk;
      if (array.length == 0) continue;
      size_t bytes = EncodedBytes(columns_, array, 0, array.length);
      if (pending_bytes + bytes > kTargetMessageBytes) RIFFLE_RETURN_IF_ERROR(flush());
      if (bytes > kTargetMessageBytes && array.length > 8) {
        // Wide rows: this chunk alone becomes several messages of whole bytes of bitmap.
        int64_t pieces =
            static_cast<int64_t>((bytes + kTargetMessageBytes - 1) / kTargetMessageBytes);
        int64_t step = std::max<int64_t>(8, ((array.length + pieces - 1) / pieces + 7) / 8 * 8);
        for (int64_t at = 0; at < array.length; at += step) {
          RIFFLE_ASSIGN_OR_RETURN(
              IpcMessage m,
              RecordBatchMessage(columns_, {{&array, at, std::min(array.length, at + step)}}));
          RIFFLE_RETURN_IF_ERROR(Push(std::move(m)));
        }
        continue;
      }
      pending.push_back({&array, 0, array.length});
      pending_bytes += bytes;
      held.push_back(std::move(chunk));
      if (!source_.KeepsChunks()) RIFFLE_RETURN_IF_ERROR(flush());
    }
    return flush();
  }

  Status Push(IpcMessage m) {
    std::unique_lock lock(mu_);
    space_.wait(lock, [&] { return stop_ || queue_.size() < kQueuedMessages; });
    if (stop_) return Status::Unavailable("stopped");
    queue_.push_back(std::move(m));
    ready_.notify_one();
    return Status::Ok();
  }

  ArrowSource& source_;
  query::Cancellation& cancel_;
  const std::vector<WireColumn>& columns_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<IpcMessage> queue_;
  bool stop_ = false, done_ = false;
  Status status_;
  std::thread thread_;
};

}  // namespace

grpc::Status SendStream(grpc::ServerWriter<WireFlightData>* writer, ArrowSource& source,
                        query::Cancellation& cancel) {
  IpcMessage schema = SchemaMessage(source.columns());
  if (!writer->Write(WireFlightData{std::move(schema.header), ""}))
    return {grpc::StatusCode::CANCELLED, "the client went away"};
  Pipeline pipeline(source, cancel);
  pipeline.Start();
  while (auto message = pipeline.Pop()) {
    if (!writer->Write(WireFlightData{std::move(message->header), std::move(message->body)})) {
      pipeline.Stop();
      return {grpc::StatusCode::CANCELLED, "the client went away"};
    }
  }
  return ToGrpc(pipeline.status());
}

CallWatch::CallWatch(grpc::ServerContext* ctx, CancelPtr cancel)
    : ctx_(ctx), cancel_(std::move(cancel)) {
  thread_ = std::thread([this] { Run(); });
}

CallWatch::~CallWatch() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CallWatch::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(20));
    if (stop_) return;
    bool late = std::chrono::system_clock::now() > ctx_->deadline();
    if (late || ctx_->IsCancelled()) {
      fired_ = late ? 2 : 1;
      cancel_->Cancel();
      return;
    }
  }
}

grpc::Status CallWatch::Outcome(grpc::Status st) const {
  if (st.ok()) return st;
  switch (fired_.load()) {
    case 1:
      return {grpc::StatusCode::CANCELLED, "the query was cancelled by the client"};
    case 2:
      return {grpc::StatusCode::DEADLINE_EXCEEDED, "the query's deadline (grpc-timeout) passed"};
    default:
      return st;
  }
}

}  // namespace riffle::flight
