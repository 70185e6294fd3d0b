#include "worker/wire.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace riffle::worker {

namespace {

// A frame this large is a bug or a corrupt stream, not a message.
constexpr uint32_t kMaxFrame = 1u << 30;

enum ValueTag : uint8_t { kNull, kFalse, kTrue, kInt, kUInt, kFloat, kString, kTime };

template <typename T>
void Append(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

Packer& Packer::U8(uint8_t v) {
  out_.push_back(static_cast<char>(v));
  return *this;
}
Packer& Packer::U32(uint32_t v) {
  Append(out_, v);
  return *this;
}
Packer& Packer::I64(int64_t v) {
  Append(out_, v);
  return *this;
}
Packer& Packer::F64(double v) {
  Append(out_, v);
  return *this;
}
Packer& Packer::Str(std::string_view v) {
  U32(static_cast<uint32_t>(v.size()));
  out_.append(v);
  return *this;
}

Packer& Packer::Val(const query::Value& v) {
  if (auto* b = std::get_if<bool>(&v)) return U8(*b ? kTrue : kFalse);
  if (auto* i = std::get_if<int64_t>(&v)) return U8(kInt).I64(*i);
  if (auto* u = std::get_if<uint64_t>(&v)) return U8(kUInt).I64(static_cast<int64_t>(*u));
  if (auto* d = std::get_if<double>(&v)) return U8(kFloat).F64(*d);
  if (auto* s = std::get_if<std::string>(&v)) return U8(kString).Str(*s);
  if (auto* t = std::get_if<query::Timestamp>(&v)) return U8(kTime).I64(t->ns);
  return U8(kNull);
}

Unpacker::Unpacker(std::string_view body) : body_(body) {
  if (body.empty()) throw std::runtime_error("empty message from the plugin worker channel");
  type_ = static_cast<Msg>(static_cast<uint8_t>(body[0]));
  call_ = U32();
}

const char* Unpacker::Take(size_t n) {
  if (body_.size() - pos_ < n)
    throw std::runtime_error("truncated message on the plugin worker channel (type " +
                             std::to_string(static_cast<int>(type_)) + ")");
  const char* p = body_.data() + pos_;
  pos_ += n;
  return p;
}

uint8_t Unpacker::U8() { return static_cast<uint8_t>(*Take(1)); }

#define RIFFLE_UNPACK(Name, Type)              \
  Type Unpacker::Name() {                      \
    Type v;                                    \
    std::memcpy(&v, Take(sizeof v), sizeof v); \
    return v;                                  \
  }
RIFFLE_UNPACK(U32, uint32_t)
RIFFLE_UNPACK(I64, int64_t)
RIFFLE_UNPACK(F64, double)
#undef RIFFLE_UNPACK

std::string_view Unpacker::Str() {
  uint32_t n = U32();
  return {Take(n), n};
}

query::Value Unpacker::Val() {
  switch (U8()) {
    case kNull:
      return std::monostate{};
    case kFalse:
      return false;
    case kTrue:
      return true;
    case kInt:
      return I64();
    case kUInt:
      return static_cast<uint64_t>(I64());
    case kFloat:
      return F64();
    case kString:
      return std::string(Str());
    case kTime:
      return query::Timestamp{I64()};
  }
  throw std::runtime_error("unknown value tag on the plugin worker channel");
}

Status SendFrame(int fd, const std::string& body) {
  uint32_t n = static_cast<uint32_t>(body.size());
  iovec parts[2] = {{&n, sizeof n}, {const_cast<char*>(body.data()), body.size()}};
  size_t total = sizeof n + body.size(), sent = 0;
  while (sent < total) {
    msghdr msg{};
    iovec rest[2];
    int count = 0;
    size_t skip = sent;
    for (auto& part : parts) {
      if (skip >= part.iov_len) {
        skip -= part.iov_len;
        continue;
      }
      rest[count++] = {static_cast<char*>(part.iov_base) + skip, part.iov_len - skip};
      skip = 0;
    }
    msg.msg_iov = rest;
    msg.msg_iovlen = count;
    ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::Unavailable(std::string("the plugin worker channel is closed: ") +
                                 std::strerror(errno));
    }
    sent += static_cast<size_t>(w);
  }
  return Status::Ok();
}

namespace {

// False at a clean end of stream before any byte.
Result<bool> ReadFull(int fd, char* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == ECONNRESET && got == 0) return false;  // the peer is gone
    if (r < 0)
      return Status::Internal(std::string("the plugin worker channel failed: ") +
                              std::strerror(errno));
    if (r == 0) {
      if (got == 0) return false;
      return Status::Internal("the plugin worker channel closed in the middle of a message");
    }
    got += static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

Result<std::string> ReceiveFrame(int fd) {
  uint32_t n = 0;
  auto head = ReadFull(fd, reinterpret_cast<char*>(&n), sizeof n);
  if (!head.ok()) return head.status();
  if (!*head) return Status::Unavailable("the plugin worker channel is closed");
  if (n == 0 || n > kMaxFrame)
    return Status::Internal("bad frame length " + std::to_string(n) +
                            " on the plugin worker channel");
  std::string body(n, '\0');
  auto rest = ReadFull(fd, body.data(), n);
  if (!rest.ok()) return rest.status();
  if (!*rest)
    return Status::Internal("the plugin worker channel closed in the middle of a message");
  return body;
}

void PackCode(Packer& p, const python::PluginCode& code) {
  p.Str(code.filename)
      .Str(code.path)
      .Str(code.source)
      .Str(code.package_dir)
      .Str(code.package)
      .I64(code.version);
}

python::PluginCode UnpackCode(Unpacker& u) {
  python::PluginCode code;
  code.filename = u.Str();
  code.path = u.Str();
  code.source = u.Str();
  code.package_dir = u.Str();
  code.package = u.Str();
  code.version = u.I64();
  return code;
}

void PackContext(Packer& p, const python::CallContext& ctx) {
  p.Str(ctx.trigger_name).Str(ctx.database).Str(ctx.cache_namespace).U8(ctx.dry_run ? 1 : 0);
  p.U8(ctx.args ? 1 : 0);
  if (ctx.args) {
    p.U32(static_cast<uint32_t>(ctx.args->size()));
    for (const auto& [k, v] : *ctx.args) p.Str(k).Str(v);
  }
}

python::CallContext UnpackContext(Unpacker& u) {
  python::CallContext ctx;
  ctx.trigger_name = u.Str();
  ctx.database = u.Str();
  ctx.cache_namespace = u.Str();
  ctx.dry_run = u.U8() != 0;
  if (u.U8()) {
    ctx.args.emplace();
    for (uint32_t n = u.U32(); n > 0; --n) {
      std::string k(u.Str());
      (*ctx.args)[k] = u.Str();
    }
  }
  return ctx;
}

void PackOutcome(Packer& p, const python::CallOutcome& out) {
  p.U8(static_cast<uint8_t>(out.status.code())).Str(out.status.message()).Str(out.traceback);
  p.U32(static_cast<uint32_t>(out.writes.size()));
  for (const auto& w : out.writes) p.Str(w.database).Str(w.line).U8(w.sync).U8(w.no_sync);
  p.I64(out.http_status).Str(out.http_body).U32(static_cast<uint32_t>(out.http_headers.size()));
  for (const auto& [k, v] : out.http_headers) p.Str(k).Str(v);
}

python::CallOutcome UnpackOutcome(Unpacker& u) {
  python::CallOutcome out;
  auto code = static_cast<Code>(u.U8());
  std::string message(u.Str());
  out.status = code == Code::kOk ? Status::Ok() : Status(code, message);
  out.traceback = u.Str();
  for (uint32_t n = u.U32(); n > 0; --n) {
    python::WrittenLine w;
    w.database = u.Str();
    w.line = u.Str();
    w.sync = u.U8() != 0;
    w.no_sync = u.U8() != 0;
    out.writes.push_back(std::move(w));
  }
  out.http_status = static_cast<int>(u.I64());
  out.http_body = u.Str();
  for (uint32_t n = u.U32(); n > 0; --n) {
    std::string k(u.Str());
    out.http_headers.emplace_back(std::move(k), std::string(u.Str()));
  }
  return out;
}

void PackTables(Packer& p, const std::vector<python::TableRows>& tables) {
  size_t rows = 0;
  for (const auto& t : tables) rows += t.rows.size();
  if (!tables.empty() &&
      !tables[0].rows.empty())  // a guess from the first row's text, to grow the body once or twice
    p.body().reserve(p.body().size() +
                     rows * (tables[0].rows[0].first->batch.lines[0].raw.size() + 32));
  p.U32(static_cast<uint32_t>(tables.size()));
  for (const auto& t : tables) {
    uint32_t tags = 0, fields = 0;  // so that the worker allocates each array once
    for (const auto& [op, index] : t.rows) {
      tags += op->batch.lines[index].tag_count;
      fields += op->batch.lines[index].field_count;
    }
    p.Str(t.table).U32(static_cast<uint32_t>(t.rows.size())).U32(tags).U32(fields);
    for (const auto& [op, index] : t.rows) {
      const auto& line = op->batch.lines[index];
      const auto* tags = op->batch.tags_of(line);
      p.U32(line.tag_count);
      for (uint32_t i = 0; i < line.tag_count; ++i) p.Str(tags[i].key).Str(tags[i].value);
      const auto* fields = op->batch.fields_of(line);
      p.U32(line.field_count);
      for (uint32_t i = 0; i < line.field_count; ++i) {
        const auto& f = fields[i];
        p.Str(f.key).U8(static_cast<uint8_t>(f.type));
        switch (f.type) {
          case lineproto::FieldType::kFloat:
            p.F64(f.f);
            break;
          case lineproto::FieldType::kInteger:
            p.I64(f.i);
            break;
          case lineproto::FieldType::kUInteger:
            p.I64(static_cast<int64_t>(f.u));
            break;
          case lineproto::FieldType::kBoolean:
            p.U8(f.b);
            break;
          case lineproto::FieldType::kString:
            p.Str(f.s);
            break;
        }
      }
      p.I64(op->times[index]);
    }
  }
}

UnpackedTables UnpackTables(Unpacker& u, const std::shared_ptr<const std::string>& body) {
  UnpackedTables out;
  for (uint32_t t = u.U32(); t > 0; --t) {
    auto op = std::make_shared<wal::WriteOp>();
    op->body = body;
    std::string_view table = u.Str();
    uint32_t rows = u.U32();
    uint32_t tags = u.U32();
    uint32_t fields = u.U32();
    auto& batch = op->batch;
    batch.lines.reserve(rows);
    batch.tags.reserve(tags);
    batch.fields.reserve(fields);
    op->times.reserve(rows);
    for (uint32_t r = 0; r < rows; ++r) {
      lineproto::Line line;
      line.measurement = table;
      line.tag_begin = static_cast<uint32_t>(batch.tags.size());
      line.tag_count = u.U32();
      for (uint32_t i = 0; i < line.tag_count; ++i) {
        std::string_view k = u.Str();
        batch.tags.push_back({k, u.Str()});
      }
      line.field_begin = static_cast<uint32_t>(batch.fields.size());
      line.field_count = u.U32();
      for (uint32_t i = 0; i < line.field_count; ++i) {
        lineproto::Field f;
        f.key = u.Str();
        f.type = static_cast<lineproto::FieldType>(u.U8());
        switch (f.type) {
          case lineproto::FieldType::kFloat:
            f.f = u.F64();
            break;
          case lineproto::FieldType::kInteger:
            f.i = u.I64();
            break;
          case lineproto::FieldType::kUInteger:
            f.u = static_cast<uint64_t>(u.I64());
            break;
          case lineproto::FieldType::kBoolean:
            f.b = u.U8() != 0;
            break;
          case lineproto::FieldType::kString:
            f.s = u.Str();
            break;
          default:
            throw std::runtime_error("unknown field type on the plugin worker channel");
        }
        batch.fields.push_back(f);
      }
      batch.lines.push_back(line);
      op->times.push_back(u.I64());
    }
    python::TableRows table_rows{std::string(table), {}};
    table_rows.rows.reserve(rows);
    for (uint32_t r = 0; r < rows; ++r) table_rows.rows.emplace_back(op.get(), r);
    out.tables.push_back(std::move(table_rows));
    out.ops.push_back(std::move(op));
  }
  return out;
}

void PackParams(Packer& p, const query::Params& params) {
  p.U32(static_cast<uint32_t>(params.size()));
  for (const auto& [name, value] : params) {
    p.Str(name).Val(query::ToValue(value));
  }
}

query::Params UnpackParams(Unpacker& u) {
  query::Params params;
  for (uint32_t n = u.U32(); n > 0; --n) {
    std::string name(u.Str());
    query::Value v = u.Val();
    query::ParamValue pv;
    if (auto* b = std::get_if<bool>(&v))
      pv = *b;
    else if (auto* i = std::get_if<int64_t>(&v))
      pv = *i;
    else if (auto* d = std::get_if<double>(&v))
      pv = *d;
    else if (auto* s = std::get_if<std::string>(&v))
      pv = std::move(*s);
    params.emplace_back(std::move(name), std::move(pv));
  }
  return params;
}

void PackBatch(Packer& p, const query::Batch& batch) {
  p.U32(static_cast<uint32_t>(batch.rows)).U32(static_cast<uint32_t>(batch.columns.size()));
  for (const auto& column : batch.columns)
    for (size_t r = 0; r < batch.rows; ++r) p.Val(column[r]);
}

query::Batch UnpackBatch(Unpacker& u) {
  query::Batch batch;
  batch.rows = u.U32();
  batch.columns.resize(u.U32());
  for (auto& column : batch.columns) {
    column.reserve(batch.rows);
    for (size_t r = 0; r < batch.rows; ++r) column.push_back(u.Val());
  }
  return batch;
}

}  // namespace riffle::worker
