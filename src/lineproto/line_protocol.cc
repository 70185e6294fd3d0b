// Line-protocol parser: one pass per line, no per-line heap allocation except for values
// that contain escapes (stored in the batch arena).
#include "lineproto/line_protocol.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <functional>

namespace riffle::lineproto {
namespace {

constexpr size_t kMaxStringField = 1 << 20;

class LineParseError {
 public:
  explicit LineParseError(std::string m) : message(std::move(m)) {}
  std::string message;
};

bool ValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    // Fast path for ASCII runs.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > n || (len == 2 && c < 0xC2)) return false;
    for (size_t k = 1; k < len; ++k)
      if ((p[i + k] & 0xC0) != 0x80) return false;
    if (len == 3 && c == 0xE0 && p[i + 1] < 0xA0) return false;
    if (len == 3 && c == 0xED && p[i + 1] >= 0xA0) return false;
    if (len == 4 && (c > 0xF4 || (c == 0xF0 && p[i + 1] < 0x90) || (c == 0xF4 && p[i + 1] >= 0x90))) return false;
    i += len;
  }
  return true;
}

// What a byte can end: one table lookup per byte instead of four or five comparisons.
constexpr uint8_t kNameEnd = 1;  // ',', ' ', '\t' end any name; '\\' needs a look
constexpr uint8_t kKeyEnd = 2;   // '=' ends a key
constexpr auto kByteClass = [] {
  std::array<uint8_t, 256> t{};
  t[','] = t[' '] = t['\t'] = t['\\'] = kNameEnd;
  t['='] = kKeyEnd;
  return t;
}();

bool FloatText(std::string_view v) {
  for (char c : v)
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
      return false;
  return true;
}

// Parses one line (no trailing newline) into `batch`; throws LineParseError.
class LineParser {
 public:
  LineParser(std::string_view line, ParsedBatch& batch) : s_(line), batch_(batch) {}

  Line Parse() {
    Line line;
    line.raw = s_;
    line.measurement = ReadName(/*measurement=*/true);
    if (line.measurement.empty()) throw LineParseError("missing measurement name");
    line.tag_begin = static_cast<uint32_t>(batch_.tags.size());
    while (pos_ < s_.size() && s_[pos_] == ',') {
      ++pos_;
      Tag tag;
      tag.key = ReadName(false);
      if (tag.key.empty()) throw LineParseError("tag key is empty");
      if (pos_ >= s_.size() || s_[pos_] != '=') throw LineParseError("tag '" + std::string(tag.key) + "' has no value: expected key=value");
      ++pos_;
      tag.value = ReadName(false, /*stop_at_equals=*/false);
      if (tag.value.empty()) throw LineParseError("tag '" + std::string(tag.key) + "' has an empty value");
      for (size_t i = line.tag_begin; i < batch_.tags.size(); ++i)
        if (batch_.tags[i].key == tag.key)
          throw LineParseError("Must not contain duplicate tags, but `" + std::string(tag.key) + "` was repeated");
      batch_.tags.push_back(tag);
    }
    line.tag_count = static_cast<uint32_t>(batch_.tags.size() - line.tag_begin);
    if (pos_ >= s_.size() || s_[pos_] != ' ') {
      if (pos_ >= s_.size()) throw LineParseError("No fields were provided");
      throw LineParseError("invalid character '" + std::string(1, s_[pos_]) + "' after measurement or tags");
    }
    SkipSpaces();
    line.field_begin = static_cast<uint32_t>(batch_.fields.size());
    for (;;) {
      if (pos_ >= s_.size()) throw LineParseError("No fields were provided");
      Field f;
      f.key = ReadName(false);
      if (f.key.empty()) throw LineParseError("No fields were provided");
      if (pos_ >= s_.size() || s_[pos_] != '=') throw LineParseError("field '" + std::string(f.key) + "' has no value: expected key=value");
      ++pos_;
      ReadFieldValue(f);
      for (size_t i = line.field_begin; i < batch_.fields.size(); ++i)
        if (batch_.fields[i].key == f.key)
          throw LineParseError("invalid line protocol - multiple instances of '" + std::string(f.key) + "' field found");
      batch_.fields.push_back(f);
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      break;
    }
    line.field_count = static_cast<uint32_t>(batch_.fields.size() - line.field_begin);
    SkipSpaces();
    if (pos_ < s_.size()) {
      size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] != ' ' && s_[pos_] != '\t') ++pos_;
      std::string_view ts = s_.substr(start, pos_ - start);
      int64_t v;
      auto [p, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), v);
      if (ec != std::errc() || p != ts.data() + ts.size())
        throw LineParseError("Unable to parse timestamp value '" + std::string(ts) + "'");
      line.timestamp = v;
      SkipSpaces();
      if (pos_ < s_.size())
        throw LineParseError("Could not parse entire line. Found trailing content: '" + std::string(s_.substr(pos_)) + "'");
    }
    return line;
  }

 private:
  void SkipSpaces() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }

  // Measurement, tag key/value or field key. Stops at an unescaped ',', ' ', or '=' (not for
  // measurements). Unescapes into the arena only when needed.
  std::string_view ReadName(bool measurement, bool stop_at_equals = true) {
    size_t start = pos_;
    bool escaped = false;
    const uint8_t stop = !measurement && stop_at_equals ? kNameEnd | kKeyEnd : kNameEnd;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (!(kByteClass[static_cast<uint8_t>(c)] & stop)) {
        ++pos_;
        continue;
      }
      if (c != '\\') break;
      if (pos_ + 1 >= s_.size()) throw LineParseError("key or value ends with a backslash");
      escaped = true;
      pos_ += 2;
    }
    std::string_view raw = s_.substr(start, pos_ - start);
    if (!escaped) return raw;
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size()) {
        char n = raw[i + 1];
        bool is_escape = n == ',' || n == ' ' || (!measurement && (n == '=' || n == '\\'));
        if (is_escape) {
          out.push_back(n);
          ++i;
          continue;
        }
      }
      out.push_back(raw[i]);
    }
    batch_.arena.push_back(std::move(out));
    return batch_.arena.back();
  }

  void ReadFieldValue(Field& f) {
    if (pos_ >= s_.size()) throw LineParseError("field '" + std::string(f.key) + "' has no value");
    if (s_[pos_] == '"') {
      ++pos_;
      size_t start = pos_;
      bool escaped = false;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size() && (s_[pos_ + 1] == '"' || s_[pos_ + 1] == '\\')) {
          escaped = true;
          pos_ += 2;
          continue;
        }
        ++pos_;
      }
      if (pos_ >= s_.size()) throw LineParseError("unterminated string value for field '" + std::string(f.key) + "'");
      std::string_view raw = s_.substr(start, pos_ - start);
      ++pos_;
      if (raw.size() > kMaxStringField)
        throw LineParseError("string value for field '" + std::string(f.key) + "' is longer than 1 MiB");
      f.type = FieldType::kString;
      if (!escaped) {
        f.s = raw;
      } else {
        std::string out;
        out.reserve(raw.size());
        for (size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\\' && i + 1 < raw.size() && (raw[i + 1] == '"' || raw[i + 1] == '\\')) ++i;
          out.push_back(raw[i]);
        }
        batch_.arena.push_back(std::move(out));
        f.s = batch_.arena.back();
      }
      return;
    }
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != ' ' && s_[pos_] != '\t') ++pos_;
    std::string_view v = s_.substr(start, pos_ - start);
    if (v.empty()) throw LineParseError("field '" + std::string(f.key) + "' has no value");
    char last = v.back();
    if (last == 'i' || last == 'u') {
      std::string_view digits = v.substr(0, v.size() - 1);
      const char* b = digits.data();
      const char* e = b + digits.size();
      if (last == 'i') {
        auto [p, ec] = std::from_chars(b, e, f.i);
        if (ec != std::errc() || p != e || digits.empty())
          throw LineParseError("Unable to parse integer value '" + std::string(v) + "'");
        f.type = FieldType::kInteger;
      } else {
        auto [p, ec] = std::from_chars(b, e, f.u);
        if (ec != std::errc() || p != e || digits.empty())
          throw LineParseError("Unable to parse unsigned integer value '" + std::string(v) + "'");
        f.type = FieldType::kUInteger;
      }
      return;
    }
    switch (v[0]) {
      case 't':
      case 'T':
      case 'f':
      case 'F':
        if (v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE") {
          f.type = FieldType::kBoolean;
          f.b = true;
          return;
        }
        if (v == "f" || v == "F" || v == "false" || v == "False" || v == "FALSE") {
          f.type = FieldType::kBoolean;
          f.b = false;
          return;
        }
        throw LineParseError("invalid field value '" + std::string(v) + "' for field '" + std::string(f.key) + "'");
      default: break;
    }
    // Floats: digits, sign, '.', exponent only (no inf/nan, which from_chars would take: a
    // digit or '.' must follow the sign). The character check runs only for the error's words.
    const char* b = v.data();
    const char* e = b + v.size();
    if (*b == '+') ++b;
    const char* first = b < e && *b == '-' ? b + 1 : b;
    bool number_start = first < e && ((*first >= '0' && *first <= '9') || *first == '.');
    auto [p, ec] = number_start ? std::from_chars(b, e, f.f)
                                : std::from_chars_result{b, std::errc::invalid_argument};
    if (ec != std::errc() || p != e) {
      if (!FloatText(v))
        throw LineParseError("invalid field value '" + std::string(v) + "' for field '" +
                             std::string(f.key) + "'");
      throw LineParseError("Unable to parse float value '" + std::string(v) + "' for field '" + std::string(f.key) + "'");
    }
    f.type = FieldType::kFloat;
  }

  std::string_view s_;
  ParsedBatch& batch_;
  size_t pos_ = 0;
};

// End of the line starting at `pos`: the next '\n' outside a double-quoted field value.
size_t LineEnd(std::string_view body, size_t pos) {
  for (;;) {
    const char* nl = static_cast<const char*>(std::memchr(body.data() + pos, '\n', body.size() - pos));
    size_t end = nl ? static_cast<size_t>(nl - body.data()) : body.size();
    const char* q = static_cast<const char*>(std::memchr(body.data() + pos, '"', end - pos));
    if (!q) return end;
    // A quote before the newline: walk the line honouring string fields (only after '=').
    bool in_string = false;
    size_t i = pos;
    for (; i < body.size(); ++i) {
      char c = body[i];
      if (in_string) {
        if (c == '\\' && i + 1 < body.size()) {
          ++i;
          continue;
        }
        if (c == '"') in_string = false;
        continue;
      }
      if (c == '\\' && i + 1 < body.size() && body[i + 1] != '\n') {
        ++i;
        continue;
      }
      if (c == '\n') return i;
      if (c == '"' && i > pos && body[i - 1] == '=') in_string = true;
    }
    return body.size();
  }
}

// How many bytes of `w` equal the byte repeated in `pattern` (exact: no borrow between bytes).
inline int BytesEqual(uint64_t w, uint64_t pattern) {
  constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7FULL;
  uint64_t x = w ^ pattern;  // a zero byte where w has the byte sought
  uint64_t marks = ~(((x & kLow7) + kLow7) | x | kLow7) >> 7;  // 1 in each such byte
  // Summing the bytes by multiplication: the build targets no POPCNT instruction.
  return static_cast<int>((marks * 0x0101010101010101ULL) >> 56);
}

// Newlines and '=' in one pass of eight bytes at a time: std::count is a byte loop at -O2, and
// the two counts were a tenth of parsing.
void CountLinesAndPairs(std::string_view body, size_t* newlines, size_t* equals) {
  constexpr uint64_t kNewline = 0x0A0A0A0A0A0A0A0AULL, kEquals = 0x3D3D3D3D3D3D3D3DULL;
  size_t n = 0, e = 0, i = 0;
  for (; i + 8 <= body.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, body.data() + i, 8);
    n += BytesEqual(w, kNewline);
    e += BytesEqual(w, kEquals);
  }
  for (; i < body.size(); ++i) {
    n += body[i] == '\n';
    e += body[i] == '=';
  }
  *newlines = n;
  *equals = e;
}

}  // namespace

ParsedBatch Parse(std::string_view body) {
  ParsedBatch batch;
  size_t newlines, pairs;
  CountLinesAndPairs(body, &newlines, &pairs);
  size_t estimate = newlines + 1;
  batch.lines.reserve(estimate);
  // Every tag and field has an '=', so `pairs` bounds the two vectors together. A writer's lines
  // nearly always share one shape, so the first line's split of tags and fields sizes each:
  // reserving `pairs` for both held twice the memory for as long as the write is in flight
  // (half of the server's own heap at the peak of an 8-client ingest).
  bool reserved = false;
  uint32_t line_number = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = LineEnd(body, pos);
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = 0;
    while (first < line.size() && (line[first] == ' ' || line[first] == '\t')) ++first;
    line.remove_prefix(first);
    if (line.empty() || line[0] == '#') continue;
    ParseLine(line, ++line_number, &batch);
    if (!reserved && !batch.lines.empty()) {
      const Line& first_line = batch.lines.front();
      batch.tags.reserve(std::min(pairs, first_line.tag_count * estimate));
      batch.fields.reserve(std::min(pairs, first_line.field_count * estimate));
      reserved = true;
    }
  }
  return batch;
}

bool ParseLine(std::string_view line, uint32_t line_number, ParsedBatch* batch) {
  size_t tags_before = batch->tags.size(), fields_before = batch->fields.size();
  try {
    if (!ValidUtf8(line)) throw LineParseError("invalid UTF-8 in line protocol");
    Line parsed = LineParser(line, *batch).Parse();
    parsed.line_number = line_number;
    parsed.same_shape_as_previous =
        !batch->lines.empty() && SameShape(*batch, batch->lines.back(), *batch, parsed, true);
    batch->lines.push_back(parsed);
    return true;
  } catch (const LineParseError& e) {
    batch->tags.resize(tags_before);
    batch->fields.resize(fields_before);
    LineError err;
    err.line_number = line_number;
    size_t n = std::min<size_t>(line.size(), 20);
    while (n > 0 && n < line.size() && (static_cast<unsigned char>(line[n]) & 0xC0) == 0x80) --n;
    err.original_line =
        ValidUtf8(line.substr(0, n)) ? std::string(line.substr(0, n)) : std::string();
    err.message = e.message;
    batch->errors.push_back(std::move(err));
    return false;
  }
}

bool SameShape(const ParsedBatch& batch_a, const Line& a, const ParsedBatch& batch_b, const Line& b,
               bool field_types) {
  if (a.tag_count != b.tag_count || a.field_count != b.field_count ||
      a.measurement != b.measurement)
    return false;
  const Tag* ta = batch_a.tags_of(a);
  const Tag* tb = batch_b.tags_of(b);
  for (uint32_t i = 0; i < a.tag_count; ++i)
    if (ta[i].key != tb[i].key) return false;
  const Field* fa = batch_a.fields_of(a);
  const Field* fb = batch_b.fields_of(b);
  for (uint32_t i = 0; i < a.field_count; ++i)
    if (fa[i].key != fb[i].key || (field_types && fa[i].type != fb[i].type)) return false;
  return true;
}

uint64_t SeriesHash(const Tag* tags, uint32_t count) {
  // Sum of mixed per-tag hashes: the same tag set in any order gives the same value.
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  std::hash<std::string_view> hasher;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t x = hasher(tags[i].key) * 0xff51afd7ed558ccdULL ^ hasher(tags[i].value);
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    h += x;
  }
  return h;
}

void SeriesHashes(const ParsedBatch& batch, std::vector<uint64_t>* out) {
  out->clear();
  out->reserve(batch.lines.size());
  for (const auto& line : batch.lines)
    out->push_back(SeriesHash(batch.tags_of(line), line.tag_count));
}

Result<Precision> ParsePrecision(std::string_view text) {
  if (text == "auto") return Precision::kAuto;
  if (text == "s" || text == "second") return Precision::kSecond;
  if (text == "ms" || text == "millisecond") return Precision::kMillisecond;
  if (text == "us" || text == "u" || text == "microsecond") return Precision::kMicrosecond;
  if (text == "ns" || text == "n" || text == "nanosecond") return Precision::kNanosecond;
  return Status::InvalidArgument("invalid precision '" + std::string(text) + "': expected one of auto, s, ms, us, ns");
}

namespace {
const char* PrecisionName(Precision p) {
  switch (p) {
    case Precision::kAuto: return "auto";
    case Precision::kSecond: return "second";
    case Precision::kMillisecond: return "millisecond";
    case Precision::kMicrosecond: return "microsecond";
    case Precision::kNanosecond: return "nanosecond";
  }
  return "?";
}
int64_t Multiplier(Precision p) {
  switch (p) {
    case Precision::kSecond: return 1000000000LL;
    case Precision::kMillisecond: return 1000000LL;
    case Precision::kMicrosecond: return 1000LL;
    default: return 1;
  }
}
}  // namespace

Result<int64_t> ToNanoseconds(int64_t raw, Precision precision) {
  if (precision == Precision::kAuto) {
    uint64_t mag = raw < 0 ? 0 - static_cast<uint64_t>(raw) : static_cast<uint64_t>(raw);
    uint64_t v = mag / 1000000000ULL;
    precision = v < 5 ? Precision::kSecond
                : v < 5000 ? Precision::kMillisecond
                : v < 5000000 ? Precision::kMicrosecond
                              : Precision::kNanosecond;
    if (precision == Precision::kNanosecond) return raw;
  }
  int64_t out;
  if (__builtin_mul_overflow(raw, Multiplier(precision), &out))
    return Status::InvalidArgument("timestamp, " + std::to_string(raw) + ", out of range for precision: " +
                                   PrecisionName(precision));
  return out;
}

int64_t TruncateToPrecision(int64_t now_ns, Precision precision) {
  int64_t m = Multiplier(precision);
  if (precision == Precision::kAuto || m == 1) return now_ns;
  return now_ns - now_ns % m;
}

void AppendEscapedMeasurement(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == ',' || c == ' ') out.push_back('\\');
    out.push_back(c);
  }
}

void AppendEscapedKeyOrTagValue(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '=' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
}

void AppendEscapedStringField(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
}

}  // namespace riffle::lineproto
