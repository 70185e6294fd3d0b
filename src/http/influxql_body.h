// Response bodies that stream an InfluxQL statement's series: as a table in the query_sql
// formats (/api/v3/query_influxql) or as InfluxDB 1.x JSON (/query).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "http/http.h"
#include "influxql/influxql.h"
#include "query/query.h"

namespace riffle::http {

// Cleans an error for the user (no generated SQL); applied to every error a body meets.
using ErrorCleaner = std::function<Status(const Status&)>;

// A series stream whose first piece is read ahead (Prime), so that its errors come before the
// response starts; Next hands that piece out first, then reads on. Errors are cleaned.
class PrimedSeries {
 public:
  PrimedSeries(std::unique_ptr<influxql::SeriesStream> series, ErrorCleaner clean)
      : series_(std::move(series)), clean_(std::move(clean)) {}
  Status Prime();
  const influxql::Series* first() const { return pending_ ? &piece_ : nullptr; }
  // The next piece, or null at the end; `*continues`: it extends the previous piece's series.
  Result<const influxql::Series*> Next(bool* continues);

 private:
  std::unique_ptr<influxql::SeriesStream> series_;  // released once exhausted
  ErrorCleaner clean_;
  influxql::Series piece_;
  bool pending_ = false, pending_continues_ = false;
};

// iox::measurement, the GROUP BY tags and the columns, one row per value row.
class InfluxQLTableBody final : public BodyStream {
 public:
  InfluxQLTableBody(std::unique_ptr<influxql::SeriesStream> series,
                    std::unique_ptr<query::Encoder> encoder, ErrorCleaner clean)
      : series_(std::move(series), std::move(clean)), encoder_(std::move(encoder)) {}
  // Reads the first series piece: errors before any byte is sent still get a status.
  Status Prime();
  Result<bool> Next(std::string* out) override;

 private:
  void Add(const influxql::Series& piece, std::string* out);
  PrimedSeries series_;
  std::unique_ptr<query::Encoder> encoder_;
  bool begun_ = false, ended_ = false;
  std::vector<std::string> columns_;
};

// {"results":[<earlier statements, whole>,{"statement_id":N,"series":[...]}]} with the last
// statement's series written as they come.
class InfluxQLV1Body final : public BodyStream {
 public:
  using ValueToJson = std::function<std::string(const query::Value&)>;
  InfluxQLV1Body(std::string prefix, size_t statement_id,
                 std::unique_ptr<influxql::SeriesStream> series, ValueToJson value_json,
                 ErrorCleaner clean)
      : prefix_(std::move(prefix)),
        statement_id_(statement_id),
        series_(std::move(series), std::move(clean)),
        value_json_(std::move(value_json)) {}
  Status Prime() { return series_.Prime(); }
  Result<bool> Next(std::string* out) override;

 private:
  void Open(const influxql::Series& s, std::string* out);
  void Rows(const influxql::Series& s, std::string* out);
  std::string prefix_;
  size_t statement_id_;
  PrimedSeries series_;
  ValueToJson value_json_;
  bool begun_ = false, ended_ = false, any_series_ = false, first_row_ = true;
};

}  // namespace riffle::http
