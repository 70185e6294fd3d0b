// Renders query results as json / jsonl / csv / pretty (parquet comes from DuckDB itself).
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "query/query.h"

namespace riffle::query {
namespace {

std::string FloatText(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // Shortest round-trip form (10.0, 100000.0, 1.5, 1e21), always with a decimal point or an
  // exponent (2.0, not 2).
  char buf[64];
  // Plain digits between 1e-7 and 1e21 (as JavaScript and Arrow print), an exponent outside.
  double magnitude = std::fabs(d);
  auto format = magnitude != 0 && (magnitude < 1e-7 || magnitude >= 1e21) ? std::chars_format::scientific
                                                                            : std::chars_format::fixed;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, format);
  std::string s(buf, ec == std::errc() ? end : buf);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

void AppendJsonValue(std::string& out, const Value& v) {
  if (auto* b = std::get_if<bool>(&v)) out += *b ? "true" : "false";
  else if (auto* i = std::get_if<int64_t>(&v)) out += std::to_string(*i);
  else if (auto* u = std::get_if<uint64_t>(&v)) out += std::to_string(*u);
  else if (auto* d = std::get_if<double>(&v)) out += std::isfinite(*d) ? FloatText(*d) : "null";
  else if (auto* s = std::get_if<std::string>(&v))
    out += nlohmann::json(*s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  else if (auto* t = std::get_if<Timestamp>(&v)) out += "\"" + FormatTimestampNanos(t->ns) + "\"";
  else out += "null";
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

std::string JsonObject(const QueryResult& r, const std::vector<Value>& row) {
  std::string out = "{";
  bool first = true;
  for (size_t c = 0; c < row.size(); ++c) {
    if (std::holds_alternative<std::monostate>(row[c])) continue;  // nulls are omitted
    if (!first) out += ",";
    first = false;
    out += nlohmann::json(r.column_names[c]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += ":";
    AppendJsonValue(out, row[c]);
  }
  return out + "}";
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

std::string Pretty(const QueryResult& r) {
  const size_t n = r.column_names.size();
  std::vector<size_t> width(n);
  std::vector<std::vector<std::string>> cells;
  for (size_t c = 0; c < n; ++c) width[c] = DisplayWidth(r.column_names[c]);
  for (const auto& row : r.rows) {
    std::vector<std::string> line;
    for (size_t c = 0; c < n; ++c) {
      line.push_back(PlainText(row[c]));
      width[c] = std::max(width[c], DisplayWidth(line.back()));
    }
    cells.push_back(std::move(line));
  }
  std::string sep = "+";
  for (size_t c = 0; c < n; ++c) sep += std::string(width[c] + 2, '-') + "+";
  sep += "\n";
  auto render_row = [&](const std::vector<std::string>& values) {
    std::string line = "|";
    for (size_t c = 0; c < n; ++c)
      line += " " + values[c] + std::string(width[c] - DisplayWidth(values[c]), ' ') + " |";
    return line + "\n";
  };
  std::string out = sep + render_row(r.column_names) + sep;
  for (const auto& line : cells) out += render_row(line);
  if (!cells.empty()) out += sep;
  return out;
}

}  // namespace

Result<Format> ParseFormat(const std::string& name) {
  if (name == "json") return Format::kJson;
  if (name == "jsonl" || name == "json_lines") return Format::kJsonLines;
  if (name == "csv") return Format::kCsv;
  if (name == "pretty") return Format::kPretty;
  if (name == "parquet") return Format::kParquet;
  return Status::InvalidArgument("invalid format '" + name + "': expected one of json, jsonl, csv, pretty, parquet");
}

const char* ContentType(Format f) {
  switch (f) {
    case Format::kJson: return "application/json";
    case Format::kJsonLines: return "application/jsonl";
    case Format::kCsv: return "text/csv";
    case Format::kPretty: return "text/plain; charset=utf-8";
    case Format::kParquet: return "application/vnd.apache.parquet";
  }
  return "application/json";
}

std::string Render(const QueryResult& r, Format format) {
  std::string out;
  switch (format) {
    case Format::kJson:
      out = "[";
      for (size_t i = 0; i < r.rows.size(); ++i) out += (i ? "," : "") + JsonObject(r, r.rows[i]);
      out += "]";
      break;
    case Format::kJsonLines:
      for (const auto& row : r.rows) out += JsonObject(r, row) + "\n";
      break;
    case Format::kCsv:
      for (size_t c = 0; c < r.column_names.size(); ++c) out += (c ? "," : "") + CsvField(r.column_names[c]);
      out += "\n";
      for (const auto& row : r.rows) {
        for (size_t c = 0; c < row.size(); ++c) out += (c ? "," : "") + CsvField(PlainText(row[c]));
        out += "\n";
      }
      break;
    case Format::kPretty: out = Pretty(r); break;
    case Format::kParquet: break;
  }
  return out;
}

}  // namespace riffle::query
