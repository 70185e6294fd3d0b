// The channel between the server and a plugin worker process: one message per frame (a 4-byte
// length, then a type byte and the body) over a Unix socket pair. Bodies are packed, not
// text: a WAL trigger's rows and a query's batches each travel as one message, the rows of a
// table in one run of bytes, so a call costs a couple of system calls whatever its size.
// Internal to the worker component.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "python/python_runtime.h"
#include "query/result_stream.h"

namespace riffle::worker {

enum class Msg : uint8_t {
  // worker → server
  kReady = 1,    // the interpreter is up
  kOutcome,      // a call ended: CallOutcome
  kLog,          // level, text (no reply)
  kWriteSync,    // db, lp, no_sync → kStatus
  kQuery,        // db, sql, params → kQueryColumns, kQueryBatch*, kQueryEnd | kStatus (an error)
  kCachePut,     // key, pickled value, ttl (< 0: none) (no reply): the global cache
  kCacheGet,     // key → kCacheValue
  kCacheDelete,  // key → kStatus (ok: it was there)
  // server → worker
  kCallWrites = 32,  // code, context, tables
  kCallScheduled,    // code, context, unix seconds
  kCallRequest,      // code, context, query parameters, headers, body
  kStatus,           // ok flag, message
  kQueryColumns,
  kQueryBatch,
  kQueryEnd,
  kCacheValue,  // found flag, pickled value
  kInterrupt,   // KeyboardInterrupt in the call's plugin code
};

// Appends packed values to a message body: its type, the call it belongs to (several calls of
// one trigger may run at once in its worker; 0 for none), then the values.
class Packer {
 public:
  Packer(Msg type, uint32_t call) {
    out_.push_back(static_cast<char>(type));
    U32(call);
  }
  Packer& U8(uint8_t v);
  Packer& U32(uint32_t v);
  Packer& I64(int64_t v);
  Packer& F64(double v);
  Packer& Str(std::string_view v);
  Packer& Val(const query::Value& v);
  const std::string& body() const { return out_; }
  std::string& body() { return out_; }

 private:
  std::string out_;
};

// Reads what a Packer wrote, in the same order. Views point into the body, which must outlive
// them. A short or malformed body throws std::runtime_error (the channel is then dropped).
class Unpacker {
 public:
  explicit Unpacker(std::string_view body);
  Msg type() const { return type_; }
  uint32_t call() const { return call_; }
  uint8_t U8();
  uint32_t U32();
  int64_t I64();
  double F64();
  std::string_view Str();
  query::Value Val();
  bool done() const { return pos_ == body_.size(); }

 private:
  const char* Take(size_t n);
  std::string_view body_;
  size_t pos_ = 1;
  Msg type_;
  uint32_t call_ = 0;
};

// Frames on a stream socket. Send is whole or an error; Receive answers Unavailable once the
// peer has closed its end between frames, Internal for anything else (a frame cut short, a
// length no frame has, a read that failed).
Status SendFrame(int fd, const std::string& body);
Result<std::string> ReceiveFrame(int fd);

// What a call carries besides its kind.
void PackCode(Packer& p, const python::PluginCode& code);
python::PluginCode UnpackCode(Unpacker& u);
void PackContext(Packer& p, const python::CallContext& ctx);
python::CallContext UnpackContext(Unpacker& u);  // host left null
void PackOutcome(Packer& p, const python::CallOutcome& out);
python::CallOutcome UnpackOutcome(Unpacker& u);

// A WAL trigger's rows: per table its name and rows (tags, fields, time).
void PackTables(Packer& p, const std::vector<python::TableRows>& tables);
// Rebuilds them as write ops whose strings point into `body` (kept alive by the ops).
struct UnpackedTables {
  std::vector<std::shared_ptr<wal::WriteOp>> ops;  // one per table
  std::vector<python::TableRows> tables;
};
UnpackedTables UnpackTables(Unpacker& u, const std::shared_ptr<const std::string>& body);

// A query's $parameters.
void PackParams(Packer& p, const query::Params& params);
query::Params UnpackParams(Unpacker& u);

// A batch of query rows, column by column.
void PackBatch(Packer& p, const query::Batch& batch);
query::Batch UnpackBatch(Unpacker& u);

}  // namespace riffle::worker
