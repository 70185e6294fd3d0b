// WAL file encoding and decoding.
#include <lz4.h>

#include <cstring>
#include <memory>

#include "common/crc32.h"
#include "wal/wal.h"

namespace riffle::wal {
namespace {

constexpr char kMagic[8] = {'R', 'F', 'L', 'W', 'A', 'L', '0', '1'};
// 1: writes only, without the kind byte; 2: the payload as it is; 3: the payload compressed
// with LZ4, its size before compression after the checksum (of the compressed bytes).
constexpr uint32_t kVersion = 3;
enum OpKind : uint8_t { kWrite = 0, kRowDelete = 1 };
constexpr size_t kHeaderSize = 8 + 4 + 8 + 4 + 4;
constexpr size_t kCompressedHeaderSize = kHeaderSize + 4;
// LZ4 shrinks TSBS line protocol about 2.8x at ~830 MB/s per core and restores it at ~3.6 GB/s.
// Writing the plain bytes cost more: a 10M-row ingest spent a fifth of its CPU copying 4 GB into
// the page cache. zstd level 1 (5x) ingested 5% faster still, but its decompression (~1.4 GB/s)
// made a restart with 1M rows to replay 0.1-0.25 s slower, past the 2 s it must stay under.

template <typename T>
void Put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
bool Get(std::string_view& in, T& v) {
  if (in.size() < sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return true;
}

bool GetBytes(std::string_view& in, uint32_t n, std::string_view& out) {
  if (in.size() < n) return false;
  out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

void PutString(std::string& out, const std::string& s) {
  Put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

bool GetString(std::string_view& in, std::string& s) {
  uint32_t n;
  std::string_view bytes;
  if (!Get(in, n) || !GetBytes(in, n, bytes)) return false;
  s.assign(bytes);
  return true;
}

void PutRowDelete(std::string& out, const RowDelete& d) {
  Put<uint64_t>(out, d.sequence);
  Put<uint32_t>(out, d.table_id);
  PutString(out, d.table_name);
  Put<int64_t>(out, d.min_time);
  Put<int64_t>(out, d.max_time);
  Put<int64_t>(out, d.created_ns);
  PutString(out, d.predicate);
  Put<uint32_t>(out, static_cast<uint32_t>(d.tags.size()));
  for (const auto& [tag, value] : d.tags) {
    PutString(out, tag);
    PutString(out, value);
  }
}

bool GetRowDelete(std::string_view& in, RowDelete& d) {
  uint32_t tags;
  if (!Get(in, d.sequence) || !Get(in, d.table_id) || !GetString(in, d.table_name) ||
      !Get(in, d.min_time) || !Get(in, d.max_time) || !Get(in, d.created_ns) ||
      !GetString(in, d.predicate) || !Get(in, tags))
    return false;
  for (uint32_t i = 0; i < tags; ++i) {
    std::string tag, value;
    if (!GetString(in, tag) || !GetString(in, value)) return false;
    d.tags.emplace_back(std::move(tag), std::move(value));
  }
  return true;
}

// The header every version starts with: magic, version, sequence, and the length and CRC-32 of
// the bytes stored after it.
std::string Header(uint32_t version, uint64_t sequence, std::string_view stored) {
  std::string out;
  out.append(kMagic, sizeof kMagic);
  Put<uint32_t>(out, version);
  Put<uint64_t>(out, sequence);
  Put<uint32_t>(out, static_cast<uint32_t>(stored.size()));
  Put<uint32_t>(out, Crc32(stored));
  return out;
}

// A version 2 file: the payload as it is.
std::string PlainFile(uint64_t sequence, std::string_view payload) {
  std::string out = Header(2, sequence, payload);
  out.append(payload);
  return out;
}

}  // namespace

std::string EncodeWalFile(uint64_t sequence, const std::vector<WriteOpPtr>& ops) {
  size_t estimate = 4;
  for (const auto& op : ops) estimate += op->body->size() + op->batch.lines.size() * 12 + 96;
  // The flush thread reuses its payload buffer and compression state: fresh memory for each
  // file faulted its pages in again. A buffer far larger than this file needs (after a burst)
  // is given back.
  thread_local std::string payload;
  thread_local std::unique_ptr<char[]> lz4_state(new char[LZ4_sizeofState()]);
  if (payload.capacity() > 8 * estimate + (size_t{1} << 20)) std::string().swap(payload);
  payload.clear();
  payload.reserve(estimate);
  Put<uint32_t>(payload, static_cast<uint32_t>(ops.size()));
  for (const auto& op : ops) {
    Put<uint8_t>(payload, op->row_delete ? kRowDelete : kWrite);
    Put<uint32_t>(payload, op->db_id);
    Put<uint32_t>(payload, static_cast<uint32_t>(op->db_name.size()));
    payload.append(op->db_name);
    if (op->row_delete) {
      PutRowDelete(payload, *op->row_delete);
      continue;
    }
    Put<uint32_t>(payload, static_cast<uint32_t>(op->batch.lines.size()));
    for (size_t i = 0; i < op->batch.lines.size(); ++i) {
      const auto& raw = op->batch.lines[i].raw;
      Put<int64_t>(payload, op->times[i]);
      Put<uint32_t>(payload, static_cast<uint32_t>(raw.size()));
      payload.append(raw);
    }
  }
  std::string out(kCompressedHeaderSize +
                      static_cast<size_t>(LZ4_compressBound(static_cast<int>(payload.size()))),
                  '\0');
  int compressed = LZ4_compress_fast_extState(
      lz4_state.get(), payload.data(), out.data() + kCompressedHeaderSize,
      static_cast<int>(payload.size()), static_cast<int>(out.size() - kCompressedHeaderSize), 1);
  if (compressed <= 0) return PlainFile(sequence, payload);  // a payload of 2 GB or more
  out.resize(kCompressedHeaderSize + static_cast<size_t>(compressed));
  std::string_view stored(out.data() + kCompressedHeaderSize, static_cast<size_t>(compressed));
  std::string header = Header(kVersion, sequence, stored);
  Put<uint32_t>(header, static_cast<uint32_t>(payload.size()));
  std::memcpy(out.data(), header.data(), kCompressedHeaderSize);
  return out;
}

Result<std::vector<WriteOpPtr>> DecodeWalFile(const std::string& contents, uint64_t* sequence) {
  return DecodeWalFile(std::make_shared<const std::string>(contents), sequence);
}

std::shared_ptr<WriteOp> DecodeRecycler::TakeOp() {
  {
    std::lock_guard lock(mu_);
    if (!ops_.empty()) {
      auto op = std::move(ops_.back());
      ops_.pop_back();
      return op;
    }
  }
  return std::make_shared<WriteOp>();
}

std::shared_ptr<std::string> DecodeRecycler::TakeBuffer(size_t at_least) {
  {
    std::lock_guard lock(mu_);
    if (!buffers_.empty()) {
      // The smallest buffer that holds `at_least`, else the largest: one that grows is
      // reallocated, and its new pages are faulted in again.
      size_t best = 0;
      for (size_t i = 1; i < buffers_.size(); ++i) {
        size_t have = buffers_[i]->capacity(), best_have = buffers_[best]->capacity();
        bool fits = have >= at_least, best_fits = best_have >= at_least;
        if (fits != best_fits ? fits : (fits ? have < best_have : have > best_have)) best = i;
      }
      auto buffer = std::move(buffers_[best]);
      buffers_.erase(buffers_.begin() + static_cast<std::ptrdiff_t>(best));
      return buffer;
    }
  }
  return std::make_shared<std::string>();
}

void DecodeRecycler::Give(std::vector<WriteOpPtr>& ops, std::shared_ptr<std::string> buffer) {
  std::vector<std::shared_ptr<WriteOp>> freed;
  // A compressed file's writes point into its decompressed payload, a buffer of TakeBuffer's
  // too: it comes back once no write is left in it.
  std::shared_ptr<const std::string> payload;
  for (auto& held : ops) {
    if (held.use_count() != 1) continue;
    // Created mutable by TakeOp; only the replay that decoded it shares it, as const.
    auto op = std::const_pointer_cast<WriteOp>(std::move(held));
    if (op->body && op->body != buffer && !op->body->empty()) payload = op->body;
    op->db_id = 0;
    op->db_name.clear();
    op->body.reset();
    op->batch.lines.clear();
    op->batch.tags.clear();
    op->batch.fields.clear();
    op->batch.errors.clear();
    op->batch.arena.clear();
    op->times.clear();
    op->series.clear();
    op->row_delete.reset();
    freed.push_back(std::move(op));
  }
  ops.clear();
  std::lock_guard lock(mu_);
  for (auto& op : freed)
    if (ops_.size() < 1024) ops_.push_back(std::move(op));
  if (buffer && buffer.use_count() == 1 && buffers_.size() < kKeptBuffers)
    buffers_.push_back(std::move(buffer));
  if (payload && payload.use_count() == 1 && buffers_.size() < kKeptBuffers)
    buffers_.push_back(std::const_pointer_cast<std::string>(std::move(payload)));
}

Result<std::vector<WriteOpPtr>> DecodeWalFile(std::shared_ptr<const std::string> contents,
                                              uint64_t* sequence, DecodeRecycler* recycler) {
  std::string_view in(*contents);
  if (in.size() < kHeaderSize || std::memcmp(in.data(), kMagic, sizeof kMagic) != 0)
    return Status::IOError("not a WAL file: bad magic or too short (" + std::to_string(in.size()) + " bytes)");
  in.remove_prefix(sizeof kMagic);
  uint32_t version, length, crc;
  uint64_t seq;
  Get(in, version);
  Get(in, seq);
  Get(in, length);
  Get(in, crc);
  if (version < 1 || version > kVersion)
    return Status::IOError("unsupported WAL version " + std::to_string(version) +
                           " (this server reads versions 1 to " + std::to_string(kVersion) + ")");
  uint32_t plain_length = 0;
  if (version >= 3 && !Get(in, plain_length))
    return Status::IOError("not a WAL file: bad magic or too short (" +
                           std::to_string(contents->size()) + " bytes)");
  if (in.size() != length)
    return Status::IOError("WAL file truncated: payload has " + std::to_string(in.size()) +
                           " bytes, header says " + std::to_string(length));
  if (Crc32(in) != crc) return Status::IOError("WAL file checksum mismatch");
  if (sequence) *sequence = seq;
  // The lines are parsed where they lie: in the file itself, or in its decompressed payload.
  std::shared_ptr<const std::string> lines_in = contents;
  if (version >= 3) {
    auto plain = recycler ? recycler->TakeBuffer(plain_length) : std::make_shared<std::string>();
    plain->resize(plain_length);
    int n = LZ4_decompress_safe(in.data(), plain->data(), static_cast<int>(in.size()),
                                static_cast<int>(plain->size()));
    if (n < 0) return Status::IOError("WAL file payload does not decompress (LZ4)");
    if (static_cast<uint32_t>(n) != plain_length)
      return Status::IOError("WAL file payload decompressed to " + std::to_string(n) +
                             " bytes, header says " + std::to_string(plain_length));
    in = *plain;
    lines_in = std::move(plain);
  }

  std::vector<WriteOpPtr> ops;
  uint32_t op_count;
  if (!Get(in, op_count)) return Status::IOError("WAL payload truncated");
  for (uint32_t o = 0; o < op_count; ++o) {
    auto op = recycler ? recycler->TakeOp() : std::make_shared<WriteOp>();
    uint8_t kind = kWrite;
    if (version >= 2 && !Get(in, kind)) return Status::IOError("WAL payload truncated");
    if (kind != kWrite && kind != kRowDelete)
      return Status::IOError("WAL op has unknown kind " + std::to_string(kind));
    uint32_t name_len, line_count;
    std::string_view name;
    if (!Get(in, op->db_id) || !Get(in, name_len) || !GetBytes(in, name_len, name))
      return Status::IOError("WAL payload truncated");
    op->db_name = std::string(name);
    if (kind == kRowDelete) {
      auto row_delete = std::make_shared<RowDelete>();
      if (!GetRowDelete(in, *row_delete)) return Status::IOError("WAL payload truncated");
      op->row_delete = std::move(row_delete);
      op->body = std::make_shared<const std::string>();
      ops.push_back(std::move(op));
      continue;
    }
    if (!Get(in, line_count)) return Status::IOError("WAL payload truncated");
    // Each line is parsed where it lies in the file, which the write's batch keeps alive as its
    // body: no copy of the lines, and no pass to find where they end.
    op->body = lines_in;
    op->times.reserve(line_count);
    op->batch.lines.reserve(line_count);
    for (uint32_t l = 0; l < line_count; ++l) {
      int64_t t;
      uint32_t len;
      std::string_view raw;
      if (!Get(in, t) || !Get(in, len) || !GetBytes(in, len, raw)) return Status::IOError("WAL payload truncated");
      op->times.push_back(t);
      lineproto::ParseLine(raw, l + 1, &op->batch);
      if (l == 0 && !op->batch.lines.empty()) {
        // The first line's pairs, times the lines: writes nearly always repeat one shape.
        op->batch.tags.reserve(size_t{op->batch.lines[0].tag_count} * line_count);
        op->batch.fields.reserve(size_t{op->batch.lines[0].field_count} * line_count);
      }
    }
    lineproto::SeriesHashes(op->batch, &op->series);
    if (op->batch.lines.size() != op->times.size())
      return Status::IOError("WAL op for database '" + op->db_name + "' re-parsed to " +
                             std::to_string(op->batch.lines.size()) + " lines, expected " +
                             std::to_string(op->times.size()));
    ops.push_back(std::move(op));
  }
  return ops;
}

}  // namespace riffle::wal
