// Renders query results as json / jsonl / csv / pretty (parquet comes from DuckDB itself).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "query/query.h"

namespace riffle::query {
namespace {

// A finite double's shortest round-trip form (10.0, 100000.0, 1.5, 1e21), always with a
// decimal point or an exponent (2.0, not 2), appended to `out`.
void AppendFiniteFloat(std::string& out, double d) {
  char buf[64];
  // Plain digits between 1e-7 and 1e21 (as JavaScript and Arrow print), an exponent outside.
  double magnitude = std::fabs(d);
  auto format = magnitude != 0 && (magnitude < 1e-7 || magnitude >= 1e21)
                    ? std::chars_format::scientific
                    : std::chars_format::fixed;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, format);
  if (ec != std::errc()) end = buf;
  out.append(buf, end);
  if (std::find_if(buf, end, [](char c) { return c == '.' || c == 'e' || c == 'E'; }) == end)
    out += ".0";
}

std::string FloatText(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string s;
  AppendFiniteFloat(s, d);
  return s;
}

// Most strings (tags above all) are ASCII without a quote, a backslash or a control character:
// copied as they are, not through a JSON value.
void AppendJsonString(std::string& out, const std::string& s) {
  bool plain = std::all_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
  });
  if (!plain) {
    out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

void AppendJsonValue(std::string& out, const Value& v) {
  if (auto* b = std::get_if<bool>(&v)) {
    out += *b ? "true" : "false";
  } else if (auto* i = std::get_if<int64_t>(&v)) {
    char buf[24];
    out.append(buf, std::to_chars(buf, buf + sizeof buf, *i).ptr);
  } else if (auto* u = std::get_if<uint64_t>(&v)) {
    char buf[24];
    out.append(buf, std::to_chars(buf, buf + sizeof buf, *u).ptr);
  } else if (auto* d = std::get_if<double>(&v)) {
    if (std::isfinite(*d))
      AppendFiniteFloat(out, *d);
    else
      out += "null";
  } else if (auto* s = std::get_if<std::string>(&v)) {
    AppendJsonString(out, *s);
  } else if (auto* t = std::get_if<Timestamp>(&v)) {
    out += '"';
    out += FormatTimestampNanos(t->ns);
    out += '"';
  } else {
    out += "null";
  }
}

std::string PlainText(const Value& v) {
  if (auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* u = std::get_if<uint64_t>(&v)) return std::to_string(*u);
  if (auto* d = std::get_if<double>(&v)) return FloatText(*d);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* t = std::get_if<Timestamp>(&v)) return FormatTimestampNanos(t->ns);
  return "";
}

// Column names are encoded once per result, not once per row.
std::vector<std::string> JsonKeys(const std::vector<std::string>& names) {
  std::vector<std::string> keys;
  for (const auto& n : names)
    keys.push_back(
        nlohmann::json(n).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ":");
  return keys;
}

void AppendJsonObject(std::string& out, const std::vector<std::string>& keys, const Batch& b,
                      size_t row) {
  out += '{';
  bool first = true;
  for (size_t c = 0; c < keys.size(); ++c) {
    const Value& v = b.at(row, c);
    if (std::holds_alternative<std::monostate>(v)) continue;  // nulls are omitted
    if (!first) out += ',';
    first = false;
    out += keys[c];
    AppendJsonValue(out, v);
  }
  out += '}';
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

size_t DisplayWidth(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

class JsonEncoder final : public Encoder {
 public:
  explicit JsonEncoder(bool lines) : lines_(lines) {}
  void Begin(const std::vector<std::string>& names, std::string* out) override {
    keys_ = JsonKeys(names);
    if (!lines_) *out += '[';
  }
  void Add(const Batch& b, std::string* out) override {
    for (size_t r = 0; r < b.rows; ++r) {
      if (!lines_ && !first_) *out += ',';
      first_ = false;
      AppendJsonObject(*out, keys_, b, r);
      if (lines_) *out += '\n';
    }
  }
  void End(std::string* out) override {
    if (!lines_) *out += ']';
  }

 private:
  bool lines_;
  bool first_ = true;
  std::vector<std::string> keys_;
};

class CsvEncoder final : public Encoder {
 public:
  void Begin(const std::vector<std::string>& names, std::string* out) override {
    for (size_t c = 0; c < names.size(); ++c) *out += (c ? "," : "") + CsvField(names[c]);
    *out += '\n';
  }
  void Add(const Batch& b, std::string* out) override {
    for (size_t r = 0; r < b.rows; ++r) {
      for (size_t c = 0; c < b.columns.size(); ++c) {
        if (c) *out += ',';
        *out += CsvField(PlainText(b.at(r, c)));
      }
      *out += '\n';
    }
  }
  void End(std::string*) override {}
};

// A table with every column as wide as its widest cell: nothing can be written before the
// last row is known, so this one encoder keeps the cells (as text) until End.
class PrettyEncoder final : public Encoder {
 public:
  void Begin(const std::vector<std::string>& names, std::string*) override {
    names_ = names;
    for (const auto& n : names) width_.push_back(DisplayWidth(n));
  }
  void Add(const Batch& b, std::string*) override {
    for (size_t r = 0; r < b.rows; ++r) {
      std::vector<std::string> line;
      for (size_t c = 0; c < names_.size(); ++c) {
        line.push_back(PlainText(b.at(r, c)));
        width_[c] = std::max(width_[c], DisplayWidth(line.back()));
      }
      cells_.push_back(std::move(line));
    }
  }
  void End(std::string* out) override {
    std::string sep = "+";
    for (size_t w : width_) sep += std::string(w + 2, '-') + "+";
    sep += "\n";
    *out += sep;
    Row(names_, out);
    *out += sep;
    for (const auto& line : cells_) Row(line, out);
    if (!cells_.empty()) *out += sep;
  }

 private:
  void Row(const std::vector<std::string>& values, std::string* out) const {
    *out += '|';
    for (size_t c = 0; c < values.size(); ++c)
      *out += " " + values[c] + std::string(width_[c] - DisplayWidth(values[c]), ' ') + " |";
    *out += '\n';
  }
  std::vector<std::string> names_;
  std::vector<size_t> width_;
  std::vector<std::vector<std::string>> cells_;
};

}  // namespace

Result<Format> ParseFormat(const std::string& name) {
  if (name == "json") return Format::kJson;
  if (name == "jsonl" || name == "json_lines") return Format::kJsonLines;
  if (name == "csv") return Format::kCsv;
  if (name == "pretty") return Format::kPretty;
  if (name == "parquet") return Format::kParquet;
  return Status::InvalidArgument("invalid format '" + name +
                                 "': expected one of json, jsonl, csv, pretty, parquet");
}

const char* ContentType(Format f) {
  switch (f) {
    case Format::kJson:
      return "application/json";
    case Format::kJsonLines:
      return "application/jsonl";
    case Format::kCsv:
      return "text/csv";
    case Format::kPretty:
      return "text/plain; charset=utf-8";
    case Format::kParquet:
      return "application/vnd.apache.parquet";
  }
  return "application/json";
}

std::unique_ptr<Encoder> MakeEncoder(Format format) {
  switch (format) {
    case Format::kJson:
      return std::make_unique<JsonEncoder>(false);
    case Format::kJsonLines:
      return std::make_unique<JsonEncoder>(true);
    case Format::kCsv:
      return std::make_unique<CsvEncoder>();
    case Format::kPretty:
      return std::make_unique<PrettyEncoder>();
    case Format::kParquet:
      break;
  }
  return nullptr;
}

std::string Render(const QueryResult& r, Format format) {
  std::string out;
  auto encoder = MakeEncoder(format);
  if (!encoder) return out;
  encoder->Begin(r.column_names, &out);
  // Transposed in slices so that a large materialised result is not copied whole.
  Batch batch;
  for (size_t start = 0; start < r.rows.size(); start += 2048) {
    size_t n = std::min<size_t>(2048, r.rows.size() - start);
    batch.rows = n;
    batch.columns.assign(r.column_names.size(), std::vector<Value>(n));
    for (size_t i = 0; i < n; ++i)
      for (size_t c = 0; c < r.column_names.size() && c < r.rows[start + i].size(); ++c)
        batch.columns[c][i] = r.rows[start + i][c];
    encoder->Add(batch, &out);
  }
  encoder->End(&out);
  return out;
}

Result<QueryResult> Collect(ResultStream& stream) {
  QueryResult out;
  out.column_names = stream.column_names();
  Batch batch;
  for (;;) {
    auto more = stream.Next(&batch);
    if (!more.ok()) return more.status();
    if (!*more) break;
    size_t base = out.rows.size();
    out.rows.resize(base + batch.rows, std::vector<Value>(batch.columns.size()));
    for (size_t c = 0; c < batch.columns.size(); ++c)
      for (size_t r = 0; r < batch.rows; ++r)
        out.rows[base + r][c] = std::move(batch.columns[c][r]);
  }
  return out;
}

}  // namespace riffle::query
