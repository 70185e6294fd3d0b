#include "http/influxql_body.h"

#include <nlohmann/json.hpp>

namespace riffle::http {

namespace {
std::string JsonString(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

Status PrimedSeries::Prime() {
  auto more = series_->Next(&piece_, &pending_continues_);
  if (!more.ok()) return clean_(more.status());
  pending_ = *more;
  return Status::Ok();
}

Result<const influxql::Series*> PrimedSeries::Next(bool* continues) {
  if (pending_) {
    pending_ = false;
    *continues = pending_continues_;
    return &piece_;
  }
  if (!series_) return nullptr;
  auto more = series_->Next(&piece_, continues);
  if (!more.ok()) return clean_(more.status());
  if (*more) return &piece_;
  series_.reset();
  return nullptr;
}

Status InfluxQLTableBody::Prime() {
  RIFFLE_RETURN_IF_ERROR(series_.Prime());
  columns_ = {"iox::measurement"};
  if (const influxql::Series* first = series_.first()) {
    for (const auto& [k, v] : first->tags) columns_.push_back(k);
    for (const auto& c : first->columns) columns_.push_back(c);
  }
  return Status::Ok();
}

void InfluxQLTableBody::Add(const influxql::Series& piece, std::string* out) {
  query::Batch batch;
  batch.rows = piece.values.size();
  batch.columns.assign(columns_.size(), std::vector<query::Value>(batch.rows));
  for (size_t r = 0; r < batch.rows; ++r) {
    size_t c = 0;
    batch.columns[c++][r] = piece.name;
    for (const auto& [k, v] : piece.tags)
      if (c < columns_.size()) batch.columns[c++][r] = v;
    for (const auto& v : piece.values[r])
      if (c < columns_.size()) batch.columns[c++][r] = v;
  }
  encoder_->Add(batch, out);
}

Result<bool> InfluxQLTableBody::Next(std::string* out) {
  if (ended_) return false;
  if (!begun_) {
    begun_ = true;
    encoder_->Begin(columns_, out);
  }
  bool continues = false;
  RIFFLE_ASSIGN_OR_RETURN(const influxql::Series* piece, series_.Next(&continues));
  if (piece) {
    Add(*piece, out);
    return true;
  }
  ended_ = true;
  encoder_->End(out);
  return false;
}

void InfluxQLV1Body::Open(const influxql::Series& s, std::string* out) {
  *out += any_series_ ? "]},{" : ",\"series\":[{";
  any_series_ = true;
  first_row_ = true;
  bool first = true;
  if (!s.name.empty()) {
    *out += "\"name\":" + JsonString(s.name);
    first = false;
  }
  if (!s.tags.empty()) {
    *out += std::string(first ? "" : ",") + "\"tags\":{";
    for (size_t i = 0; i < s.tags.size(); ++i)
      *out += (i ? "," : "") + JsonString(s.tags[i].first) + ":" + JsonString(s.tags[i].second);
    *out += "}";
    first = false;
  }
  *out += std::string(first ? "" : ",") + "\"columns\":[";
  for (size_t i = 0; i < s.columns.size(); ++i) *out += (i ? "," : "") + JsonString(s.columns[i]);
  *out += "],\"values\":[";
}

void InfluxQLV1Body::Rows(const influxql::Series& s, std::string* out) {
  for (const auto& row : s.values) {
    *out += first_row_ ? "[" : ",[";
    first_row_ = false;
    for (size_t i = 0; i < row.size(); ++i) *out += (i ? "," : "") + value_json_(row[i]);
    *out += "]";
  }
}

Result<bool> InfluxQLV1Body::Next(std::string* out) {
  if (ended_) return false;
  if (!begun_) {
    begun_ = true;
    *out += prefix_ + "{\"statement_id\":" + std::to_string(statement_id_);
  }
  bool continues = false;
  RIFFLE_ASSIGN_OR_RETURN(const influxql::Series* piece, series_.Next(&continues));
  if (piece) {
    if (!continues) Open(*piece, out);
    Rows(*piece, out);
    return true;
  }
  ended_ = true;
  *out += any_series_ ? "]}]}]}" : "}]}";
  return false;
}

}  // namespace riffle::http
