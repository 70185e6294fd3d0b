// Arrow IPC messages from Arrow C data arrays. The body layout follows the columnar format's
// "Buffer layout" per type; flatbuffer headers come from our Schema.fbs/Message.fbs.
#include "flight/arrow_ipc.h"

#include <Message_generated.h>
#include <Schema_generated.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>

#include "duck/connection.h"

namespace riffle::flight {
namespace {

namespace fb = riffle::arrowfb;

enum class Layout {
  kNull,
  kBits,
  kFixed,
  kUtf8,       // int32 offsets + data
  kLargeUtf8,  // int64 offsets + data
  kNarrowInt128,
  kList,         // int32 offsets into one child (lists and maps)
  kStruct,       // validity only; children share the rows
  kDenseUnion,   // type ids + int32 offsets, no validity; children sent whole
  kDuckStrings,  // DuckDB VARCHAR vectors (duck::VectorString), sent as Utf8
  kDuckBools,    // DuckDB BOOLEAN vectors (a byte per value), sent as Bool
};

struct TypeInfo {
  Layout layout = Layout::kFixed;
  int width = 0;  // bytes per value for kFixed
};

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// What buffers a format's arrays have, or an error for formats Flight results do not carry.
Result<TypeInfo> InfoOf(const std::string& f) {
  if (f == "duck:varchar") return TypeInfo{Layout::kDuckStrings, 0};
  if (f == "duck:bool") return TypeInfo{Layout::kDuckBools, 0};
  if (f == "n") return TypeInfo{Layout::kNull, 0};
  if (f == "b") return TypeInfo{Layout::kBits, 0};
  if (f == "c" || f == "C") return TypeInfo{Layout::kFixed, 1};
  if (f == "s" || f == "S" || f == "e") return TypeInfo{Layout::kFixed, 2};
  if (f == "i" || f == "I" || f == "f" || f == "tdD" || f == "tts" || f == "ttm")
    return TypeInfo{Layout::kFixed, 4};
  if (f == "l" || f == "L" || f == "g" || f == "tdm" || f == "ttu" || f == "ttn" ||
      StartsWith(f, "ts"))
    return TypeInfo{Layout::kFixed, 8};
  if (f == "u" || f == "z") return TypeInfo{Layout::kUtf8, 0};
  if (f == "U" || f == "Z") return TypeInfo{Layout::kLargeUtf8, 0};
  // DuckDB's HUGEINT (SUM of BIGINT) exports as Decimal128(38, 0); InfluxDB answers Int64.
  if (f == "d:38,0") return TypeInfo{Layout::kNarrowInt128, 0};
  if (StartsWith(f, "d:")) return TypeInfo{Layout::kFixed, 16};
  if (f == "+l" || f == "+m") return TypeInfo{Layout::kList, 0};
  if (f == "+s") return TypeInfo{Layout::kStruct, 0};
  if (StartsWith(f, "+ud:")) return TypeInfo{Layout::kDenseUnion, 0};
  return Status::InvalidArgument("type with Arrow format '" + f + "'");
}

fb::TimeUnit UnitOf(char c) {
  switch (c) {
    case 's':
      return fb::TimeUnit::SECOND;
    case 'm':
      return fb::TimeUnit::MILLISECOND;
    case 'u':
      return fb::TimeUnit::MICROSECOND;
    default:
      return fb::TimeUnit::NANOSECOND;
  }
}

// The flatbuffer Type union member for a format (already checked by InfoOf).
std::pair<fb::Type, flatbuffers::Offset<void>> TypeOf(flatbuffers::FlatBufferBuilder& b,
                                                      const std::string& format) {
  const std::string f = WireFormat(format);
  auto integer = [&](int bits, bool is_signed) {
    return std::make_pair(fb::Type::Int, fb::CreateInt(b, bits, is_signed).Union());
  };
  if (f == "n") return {fb::Type::Null, fb::CreateNull(b).Union()};
  if (f == "+l") return {fb::Type::List, fb::CreateList(b).Union()};
  if (f == "+m") return {fb::Type::Map, fb::CreateMap(b, false).Union()};
  if (f == "+s") return {fb::Type::Struct_, fb::CreateStruct_(b).Union()};
  if (StartsWith(f, "+ud:")) {
    std::vector<int32_t> ids;
    for (size_t at = 4; at < f.size();) {
      size_t comma = f.find(',', at);
      ids.push_back(
          std::stoi(f.substr(at, comma == std::string::npos ? std::string::npos : comma - at)));
      at = comma == std::string::npos ? f.size() : comma + 1;
    }
    return {fb::Type::Union, fb::CreateUnion(b, fb::UnionMode::Dense, b.CreateVector(ids)).Union()};
  }
  if (f == "b") return {fb::Type::Bool, fb::CreateBool(b).Union()};
  if (f == "c") return integer(8, true);
  if (f == "C") return integer(8, false);
  if (f == "s") return integer(16, true);
  if (f == "S") return integer(16, false);
  if (f == "i") return integer(32, true);
  if (f == "I") return integer(32, false);
  if (f == "l" || f == "d:38,0") return integer(64, true);
  if (f == "L") return integer(64, false);
  if (f == "e")
    return {fb::Type::FloatingPoint, fb::CreateFloatingPoint(b, fb::Precision::HALF).Union()};
  if (f == "f")
    return {fb::Type::FloatingPoint, fb::CreateFloatingPoint(b, fb::Precision::SINGLE).Union()};
  if (f == "g")
    return {fb::Type::FloatingPoint, fb::CreateFloatingPoint(b, fb::Precision::DOUBLE).Union()};
  if (f == "u") return {fb::Type::Utf8, fb::CreateUtf8(b).Union()};
  if (f == "U") return {fb::Type::LargeUtf8, fb::CreateLargeUtf8(b).Union()};
  if (f == "z") return {fb::Type::Binary, fb::CreateBinary(b).Union()};
  if (f == "Z") return {fb::Type::LargeBinary, fb::CreateLargeBinary(b).Union()};
  if (f == "tdD") return {fb::Type::Date, fb::CreateDate(b, fb::DateUnit::DAY).Union()};
  if (f == "tdm") return {fb::Type::Date, fb::CreateDate(b, fb::DateUnit::MILLISECOND).Union()};
  if (f == "tts" || f == "ttm")
    return {fb::Type::Time, fb::CreateTime(b, UnitOf(f[2]), 32).Union()};
  if (f == "ttu" || f == "ttn")
    return {fb::Type::Time, fb::CreateTime(b, UnitOf(f[2]), 64).Union()};
  if (StartsWith(f, "ts")) {  // tsn:<timezone>
    std::string zone = f.size() > 4 ? f.substr(4) : "";
    auto tz = zone.empty() ? flatbuffers::Offset<flatbuffers::String>() : b.CreateString(zone);
    return {fb::Type::Timestamp, fb::CreateTimestamp(b, UnitOf(f[2]), tz).Union()};
  }
  // d:precision,scale[,bitwidth]
  int precision = 0, scale = 0, bits = 128;
  std::sscanf(f.c_str() + 2, "%d,%d,%d", &precision, &scale, &bits);
  return {fb::Type::Decimal, fb::CreateDecimal(b, precision, scale, bits).Union()};
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::KeyValue>>> KeyValuesOf(
    flatbuffers::FlatBufferBuilder& b, const KeyValues& kvs) {
  if (kvs.empty()) return 0;
  std::vector<flatbuffers::Offset<fb::KeyValue>> out;
  for (const auto& [k, v] : kvs)
    out.push_back(fb::CreateKeyValue(b, b.CreateString(k), b.CreateString(v)));
  return b.CreateVector(out);
}

std::string Finish(flatbuffers::FlatBufferBuilder& b, fb::MessageHeader type,
                   flatbuffers::Offset<void> header, int64_t body_length) {
  b.Finish(fb::CreateMessage(b, fb::MetadataVersion::V5, type, header, body_length));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

// The body under construction: buffers appended in order, each padded to 8 bytes.
class Body {
 public:
  explicit Body(std::string* out) : out_(out) {}
  // Appends `n` bytes (zeroed when `data` is null) and returns where they start.
  char* Append(const void* data, size_t n) {
    size_t at = out_->size();
    size_t padded = (n + 7) & ~size_t{7};
    out_->resize(at + padded);
    char* dst = out_->data() + at;
    if (data && n) std::memcpy(dst, data, n);
    if (!data) std::memset(dst, 0, n);
    std::memset(dst + n, 0, padded - n);
    buffers_.emplace_back(static_cast<int64_t>(at), static_cast<int64_t>(n));
    return dst;
  }
  void Empty() { buffers_.emplace_back(static_cast<int64_t>(out_->size()), 0); }
  std::vector<fb::Buffer>& buffers() { return buffers_; }

 private:
  std::string* out_;
  std::vector<fb::Buffer> buffers_;
};

// Copies `n` bits from bit `from` of `src` to bit `to` of `dst` (whose bits there are zero).
void CopyBits(const uint8_t* src, int64_t from, int64_t n, uint8_t* dst, int64_t to) {
  if (n <= 0) return;
  if (from % 8 == 0 && to % 8 == 0) {
    int64_t whole = n / 8;
    std::memcpy(dst + to / 8, src + from / 8, static_cast<size_t>(whole));
    if (n % 8)
      dst[(to + n) / 8] |= static_cast<uint8_t>(src[(from + n) / 8] & ((1u << (n % 8)) - 1));
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    if (src[(from + i) / 8] >> ((from + i) % 8) & 1)
      dst[(to + i) / 8] |= static_cast<uint8_t>(1u << ((to + i) % 8));
}

void SetBits(uint8_t* dst, int64_t to, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[(to + i) / 8] |= static_cast<uint8_t>(1u << ((to + i) % 8));
}

int64_t CountZeros(const uint8_t* bits, int64_t n) {
  int64_t ones = 0;
  int64_t whole = n / 8;
  int64_t i = 0;
  for (; i + 8 <= whole; i += 8) {
    uint64_t w;
    std::memcpy(&w, bits + i, 8);
    ones += std::popcount(w);
  }
  for (; i < whole; ++i) ones += std::popcount(static_cast<unsigned>(bits[i]));
  for (int64_t bit = whole * 8; bit < n; ++bit) ones += bits[bit / 8] >> (bit % 8) & 1;
  return n - ones;
}

// Row `i` of an Arrow validity bitmap (LSB first); no bitmap means every row is valid.
bool IsValid(const uint8_t* validity, int64_t i) {
  return !validity || (validity[i / 8] >> (i % 8) & 1);
}

// One column of one slice: its array and the first row in that array's own coordinates.
struct Part {
  const ArrowArray* a;
  int64_t start, n;
  const uint8_t* validity() const {
    return a->null_count != 0 ? static_cast<const uint8_t*>(a->buffers[0]) : nullptr;
  }
};

Status AppendColumn(const WireColumn& column, const std::vector<Part>& parts, int64_t n, Body& body,
                    std::vector<fb::FieldNode>& nodes);

// The buffers of one column, concatenated over the parts: validity, then its type's buffers.
// Returns its null count. Children (of nested types) follow in AppendColumn.
Result<int64_t> AppendBuffers(const TypeInfo& info, const std::vector<Part>& parts, int64_t n,
                              Body& body) {
  if (info.layout == Layout::kNull) return n;  // the Null type has no buffers
  if (info.layout == Layout::kDenseUnion) {
    // No validity bitmap; type ids and offsets as they are (children go whole).
    char* ids = body.Append(nullptr, static_cast<size_t>(n));
    for (const auto& p : parts) {
      std::memcpy(ids, static_cast<const int8_t*>(p.a->buffers[0]) + p.start,
                  static_cast<size_t>(p.n));
      ids += p.n;
    }
    char* offsets = body.Append(nullptr, static_cast<size_t>(n) * 4);
    for (const auto& p : parts) {
      std::memcpy(offsets, static_cast<const int32_t*>(p.a->buffers[1]) + p.start,
                  static_cast<size_t>(p.n) * 4);
      offsets += p.n * 4;
    }
    return int64_t{0};
  }
  int64_t nulls = 0;
  bool any_validity = false;
  for (const auto& p : parts) any_validity |= p.validity() != nullptr;
  if (any_validity) {
    auto* dst = reinterpret_cast<uint8_t*>(body.Append(nullptr, static_cast<size_t>((n + 7) / 8)));
    int64_t at = 0;
    for (const auto& p : parts) {
      if (const uint8_t* v = p.validity())
        CopyBits(v, p.start, p.n, dst, at);
      else
        SetBits(dst, at, p.n);
      at += p.n;
    }
    nulls = CountZeros(dst, n);
  } else {
    body.Empty();
  }
  switch (info.layout) {
    case Layout::kBits: {
      auto* dst =
          reinterpret_cast<uint8_t*>(body.Append(nullptr, static_cast<size_t>((n + 7) / 8)));
      int64_t at = 0;
      for (const auto& p : parts) {
        CopyBits(static_cast<const uint8_t*>(p.a->buffers[1]), p.start, p.n, dst, at);
        at += p.n;
      }
      break;
    }
    case Layout::kFixed: {
      char* dst = body.Append(nullptr, static_cast<size_t>(n * info.width));
      for (const auto& p : parts) {
        size_t bytes = static_cast<size_t>(p.n * info.width);
        std::memcpy(dst, static_cast<const char*>(p.a->buffers[1]) + p.start * info.width, bytes);
        dst += bytes;
      }
      break;
    }
    case Layout::kNarrowInt128: {
      auto* dst = reinterpret_cast<int64_t*>(body.Append(nullptr, static_cast<size_t>(n) * 8));
      for (const auto& p : parts) {
        const auto* src = static_cast<const uint64_t*>(p.a->buffers[1]) + p.start * 2;
        const uint8_t* validity = p.validity();
        for (int64_t i = 0; i < p.n; ++i) {
          uint64_t lo = src[2 * i], hi = src[2 * i + 1];
          bool valid = IsValid(validity, p.start + i);
          if (valid && hi != (static_cast<int64_t>(lo) < 0 ? ~uint64_t{0} : 0))
            return Status::InvalidArgument(
                "a 128-bit integer result does not fit in Int64: CAST it to DOUBLE");
          *dst++ = static_cast<int64_t>(lo);
        }
      }
      break;
    }
    case Layout::kUtf8:
    case Layout::kLargeUtf8: {
      bool large = info.layout == Layout::kLargeUtf8;
      auto offset_at = [large](const Part& p, int64_t i) -> int64_t {
        return large ? static_cast<const int64_t*>(p.a->buffers[1])[p.start + i]
                     : static_cast<const int32_t*>(p.a->buffers[1])[p.start + i];
      };
      char* raw = body.Append(nullptr, static_cast<size_t>(n + 1) * (large ? 8 : 4));
      int64_t base = 0, row = 0;
      for (const auto& p : parts) {
        int64_t first = offset_at(p, 0);
        if (large) {
          auto* dst = reinterpret_cast<int64_t*>(raw);
          for (int64_t i = 0; i < p.n; ++i) dst[row + i] = base + offset_at(p, i) - first;
        } else {
          auto* dst = reinterpret_cast<int32_t*>(raw);
          const auto* src = static_cast<const int32_t*>(p.a->buffers[1]) + p.start;
          int32_t shift = static_cast<int32_t>(base - first);
          for (int64_t i = 0; i < p.n; ++i) dst[row + i] = src[i] + shift;
        }
        base += offset_at(p, p.n) - first;
        row += p.n;
      }
      if (large)
        reinterpret_cast<int64_t*>(raw)[n] = base;
      else
        reinterpret_cast<int32_t*>(raw)[n] = static_cast<int32_t>(base);
      char* dst = body.Append(nullptr, static_cast<size_t>(base));
      for (const auto& p : parts) {
        int64_t first = offset_at(p, 0), last = offset_at(p, p.n);
        std::memcpy(dst, static_cast<const char*>(p.a->buffers[2]) + first,
                    static_cast<size_t>(last - first));
        dst += last - first;
      }
      break;
    }
    case Layout::kList: {
      auto* dst = reinterpret_cast<int32_t*>(body.Append(nullptr, static_cast<size_t>(n + 1) * 4));
      int32_t base = 0;
      int64_t row = 0;
      for (const auto& p : parts) {
        const auto* src = static_cast<const int32_t*>(p.a->buffers[1]) + p.start;
        for (int64_t i = 0; i < p.n; ++i) dst[row + i] = base + src[i] - src[0];
        base += src[p.n] - src[0];
        row += p.n;
      }
      dst[n] = base;
      break;
    }
    case Layout::kDuckBools: {
      auto* dst =
          reinterpret_cast<uint8_t*>(body.Append(nullptr, static_cast<size_t>((n + 7) / 8)));
      int64_t at = 0;
      for (const auto& p : parts) {
        const auto* src = static_cast<const uint8_t*>(p.a->buffers[1]) + p.start;
        for (int64_t i = 0; i < p.n; ++i, ++at)
          if (src[i]) dst[at / 8] |= static_cast<uint8_t>(1u << (at % 8));
      }
      break;
    }
    case Layout::kDuckStrings: {
      // Offsets first (a NULL's reference may hold anything: it counts as empty), then the bytes.
      auto* offsets =
          reinterpret_cast<int32_t*>(body.Append(nullptr, static_cast<size_t>(n + 1) * 4));
      int64_t total = 0, row = 0;
      for (const auto& p : parts) {
        const auto* strings = static_cast<const duck::VectorString*>(p.a->buffers[1]) + p.start;
        const uint8_t* validity = p.validity();
        for (int64_t i = 0; i < p.n; ++i) {
          offsets[row++] = static_cast<int32_t>(total);
          if (IsValid(validity, p.start + i)) total += strings[i].length;
        }
      }
      offsets[n] = static_cast<int32_t>(total);
      if (total > INT32_MAX)
        return Status::InvalidArgument("more than 2 GiB of strings in one batch");
      char* dst = body.Append(nullptr, static_cast<size_t>(total));
      for (const auto& p : parts) {
        const auto* strings = static_cast<const duck::VectorString*>(p.a->buffers[1]) + p.start;
        const uint8_t* validity = p.validity();
        for (int64_t i = 0; i < p.n; ++i) {
          if (!IsValid(validity, p.start + i)) continue;
          std::memcpy(dst, strings[i].data(), strings[i].length);
          dst += strings[i].length;
        }
      }
      break;
    }
    case Layout::kStruct:
    case Layout::kDenseUnion:
    case Layout::kNull:
      break;
  }
  return nulls;
}

Status AppendColumn(const WireColumn& column, const std::vector<Part>& parts, int64_t n, Body& body,
                    std::vector<fb::FieldNode>& nodes) {
  RIFFLE_ASSIGN_OR_RETURN(TypeInfo info, InfoOf(column.format));
  size_t node = nodes.size();
  nodes.emplace_back(n, 0);
  RIFFLE_ASSIGN_OR_RETURN(int64_t nulls, AppendBuffers(info, parts, n, body));
  nodes[node] = fb::FieldNode(n, nulls);
  for (size_t c = 0; c < column.children.size(); ++c) {
    std::vector<Part> child_parts;
    int64_t child_rows = 0;
    for (const auto& p : parts) {
      const ArrowArray* child = p.a->children[c];
      Part cp{child, child->offset, child->length};  // a union's children go whole
      if (info.layout == Layout::kList) {
        const auto* off = static_cast<const int32_t*>(p.a->buffers[1]) + p.start;
        cp = {child, child->offset + off[0], off[p.n] - off[0]};
      } else if (info.layout == Layout::kStruct) {
        cp = {child, child->offset + p.start - p.a->offset, p.n};
      }
      child_rows += cp.n;
      child_parts.push_back(cp);
    }
    RIFFLE_RETURN_IF_ERROR(AppendColumn(column.children[c], child_parts, child_rows, body, nodes));
  }
  return Status::Ok();
}

}  // namespace

const char* WireFormat(const std::string& format) {
  if (format == "duck:varchar") return "u";
  if (format == "duck:bool") return "b";
  return format.c_str();
}

namespace {
Result<WireColumn> ColumnOf(const ArrowSchema& s) {
  WireColumn c{
      s.name ? s.name : "", s.format ? s.format : "", {}, (s.flags & ARROW_FLAG_NULLABLE) != 0, {}};
  bool nested = c.format.rfind("+", 0) == 0;
  if (s.dictionary || (!nested && s.n_children > 0) || !InfoOf(c.format).ok())
    return Status::InvalidArgument(
        "column '" + c.name + "' has a type that Flight results do not carry yet (Arrow format '" +
        c.format + "'): CAST it to VARCHAR, BIGINT, DOUBLE, BOOLEAN or TIMESTAMP");
  for (int64_t i = 0; i < s.n_children; ++i) {
    RIFFLE_ASSIGN_OR_RETURN(WireColumn child, ColumnOf(*s.children[i]));
    c.children.push_back(std::move(child));
  }
  return c;
}

flatbuffers::Offset<fb::Field> FieldOf(flatbuffers::FlatBufferBuilder& b, const WireColumn& c) {
  std::vector<flatbuffers::Offset<fb::Field>> children;
  for (const auto& child : c.children) children.push_back(FieldOf(b, child));
  auto name = b.CreateString(c.name);
  auto [type, type_offset] = TypeOf(b, c.format);
  auto meta = KeyValuesOf(b, c.metadata);
  auto kids = children.empty() ? 0 : b.CreateVector(children);
  return fb::CreateField(b, name, c.nullable, type, type_offset, 0, kids, meta);
}
}  // namespace

Result<std::vector<WireColumn>> ColumnsOf(const ArrowSchema& schema) {
  std::vector<WireColumn> out;
  for (int64_t i = 0; i < schema.n_children; ++i) {
    RIFFLE_ASSIGN_OR_RETURN(WireColumn c, ColumnOf(*schema.children[i]));
    out.push_back(std::move(c));
  }
  return out;
}

IpcMessage SchemaMessage(const std::vector<WireColumn>& columns, const KeyValues& metadata) {
  flatbuffers::FlatBufferBuilder b(1024);
  std::vector<flatbuffers::Offset<fb::Field>> fields;
  for (const auto& c : columns) fields.push_back(FieldOf(b, c));
  auto schema =
      fb::CreateSchema(b, fb::Endianness::Little, b.CreateVector(fields), KeyValuesOf(b, metadata));
  return {Finish(b, fb::MessageHeader::Schema, schema.Union(), 0), ""};
}

Result<IpcMessage> RecordBatchMessage(const std::vector<WireColumn>& columns,
                                      const std::vector<Slice>& slices) {
  IpcMessage msg;
  int64_t n = 0;
  size_t estimate = 64 * columns.size();
  for (const auto& sl : slices) {
    n += sl.end - sl.begin;
    estimate += EncodedBytes(columns, *sl.array, sl.begin, sl.end) + columns.size() * 8 * 4;
  }
  msg.body.reserve(estimate);
  Body body(&msg.body);
  std::vector<fb::FieldNode> nodes;
  std::vector<Part> parts;
  for (size_t c = 0; c < columns.size(); ++c) {
    parts.clear();
    for (const auto& sl : slices) {
      const ArrowArray& child = *sl.array->children[c];
      parts.push_back({&child, sl.array->offset + child.offset + sl.begin, sl.end - sl.begin});
    }
    Status st = AppendColumn(columns[c], parts, n, body, nodes);
    if (!st.ok())
      return Status::InvalidArgument("column '" + columns[c].name + "': " + st.message());
  }
  flatbuffers::FlatBufferBuilder b(256 + columns.size() * 48);
  auto batch = fb::CreateRecordBatch(b, n, b.CreateVectorOfStructs(nodes),
                                     b.CreateVectorOfStructs(body.buffers()));
  msg.header = Finish(b, fb::MessageHeader::RecordBatch, batch.Union(),
                      static_cast<int64_t>(msg.body.size()));
  return msg;
}

size_t EncodedBytes(const std::vector<WireColumn>& columns, const ArrowArray& array, int64_t begin,
                    int64_t end) {
  size_t rows = static_cast<size_t>(end - begin);
  size_t total = 0;
  for (size_t c = 0; c < columns.size(); ++c) {
    auto info = InfoOf(columns[c].format);
    if (!info.ok()) continue;
    const ArrowArray& child = *array.children[c];
    int64_t start = array.offset + child.offset + begin;
    total += rows / 8 + 1;  // validity
    switch (info->layout) {
      case Layout::kFixed:
        total += info->width * rows;
        break;
      case Layout::kNarrowInt128:
        total += 8 * rows;
        break;
      case Layout::kBits:
        total += rows / 8 + 1;
        break;
      case Layout::kUtf8: {
        const auto* off = static_cast<const int32_t*>(child.buffers[1]) + start;
        total += 4 * (rows + 1) + static_cast<size_t>(off[rows] - off[0]);
        break;
      }
      case Layout::kLargeUtf8: {
        const auto* off = static_cast<const int64_t*>(child.buffers[1]) + start;
        total += 8 * (rows + 1) + static_cast<size_t>(off[rows] - off[0]);
        break;
      }
      case Layout::kDuckBools:
        total += rows / 8 + 1;
        break;
      case Layout::kDuckStrings: {
        // A NULL's reference is whatever the vector held before (gigabytes of "length" at
        // times): only valid rows count.
        const auto* strings = static_cast<const duck::VectorString*>(child.buffers[1]) + start;
        const uint8_t* validity = Part{&child, start, 0}.validity();
        total += 4 * (rows + 1);
        for (size_t i = 0; i < rows; ++i)
          if (IsValid(validity, start + static_cast<int64_t>(i))) total += strings[i].length;
        break;
      }
      default:
        total += 16 * rows;
        break;  // nested: a rough guess
    }
  }
  return total;
}

std::string Encapsulate(const IpcMessage& message) {
  std::string out;
  size_t padded = (message.header.size() + 7) & ~size_t{7};
  uint32_t marker = 0xFFFFFFFF;
  int32_t length = static_cast<int32_t>(padded);
  out.append(reinterpret_cast<const char*>(&marker), 4);
  out.append(reinterpret_cast<const char*>(&length), 4);
  out.append(message.header);
  out.append(padded - message.header.size(), '\0');
  out.append(message.body);
  return out;
}

}  // namespace riffle::flight
