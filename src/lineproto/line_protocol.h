// Line-protocol parsing (InfluxDB rules, COMPAT.md §8.1/§8.2).
//
// The parser is zero-copy: every string_view in a ParsedBatch points either into the
// caller's input buffer or into the batch's own arena (only for values that contained
// escapes). The input must outlive the batch.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace riffle::lineproto {

enum class FieldType : uint8_t { kFloat, kInteger, kUInteger, kString, kBoolean };

struct Tag {
  std::string_view key;
  std::string_view value;
};

// 40 bytes: the value is the member its type names (a batch holds one per field of every line,
// and 72 bytes with a slot for each type made parsing touch half again as much memory).
struct Field {
  Field() : f(0) {}
  std::string_view key;
  union {
    double f;
    int64_t i;
    uint64_t u;
    bool b;
    std::string_view s;  // kString: unescaped contents
  };
  FieldType type = FieldType::kFloat;
};

// One accepted line. Tags and fields live in the batch's flat vectors.
struct Line {
  std::string_view measurement;  // unescaped
  uint32_t tag_begin = 0, tag_count = 0;
  uint32_t field_begin = 0, field_count = 0;
  std::optional<int64_t> timestamp;  // raw value as written, before precision scaling
  uint32_t line_number = 0;          // 1-based, counting only non-blank, non-comment lines
  // Whether the line before it in its batch's `lines` has the same shape (SameShape with field
  // types), found while parsing, off any lock: consumers that map keys to columns reuse the
  // previous line's mapping without comparing keys again.
  bool same_shape_as_previous = false;
  std::string_view raw;              // the original line text
};

struct LineError {
  uint32_t line_number = 0;
  std::string original_line;  // first 20 bytes of the line (COMPAT.md §6.1)
  std::string message;
};

struct ParsedBatch {
  std::vector<Line> lines;
  std::vector<Tag> tags;
  std::vector<Field> fields;
  std::vector<LineError> errors;
  std::deque<std::string> arena;  // storage for unescaped strings

  const Tag* tags_of(const Line& l) const { return tags.data() + l.tag_begin; }
  const Field* fields_of(const Line& l) const { return fields.data() + l.field_begin; }
};

// Parses every line of `body`; bad lines go to `errors`, good ones to `lines`.
// Also rejects duplicate tag keys and duplicate field keys within a line.
ParsedBatch Parse(std::string_view body);

// Parses one line as Parse would, given as Line::raw holds it (no newline, no leading blanks),
// as line number `line_number`, into `batch`: false, with an entry in batch->errors, when it
// is not valid. For text whose lines are already apart, such as a WAL file's.
bool ParseLine(std::string_view line, uint32_t line_number, ParsedBatch* batch);

// True when line `a` of `batch_a` and line `b` of `batch_b` have the same measurement, tag keys
// and field keys in the same order, and (with `field_types`) the same field types: what the
// schema checks and the column lookups of a line depend on. Consecutive lines of one writer
// nearly always do, and comparing short keys costs less than hashing them again.
bool SameShape(const ParsedBatch& batch_a, const Line& a, const ParsedBatch& batch_b, const Line& b,
               bool field_types);

// The series of a line: a hash of its tag set, independent of the order tags are written in.
uint64_t SeriesHash(const Tag* tags, uint32_t count);
// `*out` becomes the SeriesHash of every line of `batch`, in order (its memory kept).
void SeriesHashes(const ParsedBatch& batch, std::vector<uint64_t>* out);

enum class Precision { kAuto, kSecond, kMillisecond, kMicrosecond, kNanosecond };

// Accepts the names InfluxDB accepts: auto, s/second, ms/millisecond, us/u/microsecond,
// ns/n/nanosecond. Unknown → InvalidArgument naming the accepted values.
Result<Precision> ParsePrecision(std::string_view text);

// Converts a raw timestamp to nanoseconds (auto: by magnitude, COMPAT.md §8.2).
// Overflow → InvalidArgument "timestamp, N, out of range for precision: P".
Result<int64_t> ToNanoseconds(int64_t raw, Precision precision);

// Server ingest time truncated to the explicit precision (not truncated for auto).
int64_t TruncateToPrecision(int64_t now_ns, Precision precision);

// Escaping used when we render line protocol ourselves (WAL, plugin writes).
void AppendEscapedMeasurement(std::string& out, std::string_view s);
void AppendEscapedKeyOrTagValue(std::string& out, std::string_view s);
void AppendEscapedStringField(std::string& out, std::string_view s);

}  // namespace riffle::lineproto
