// Where Flight results come from: DuckDB's Arrow export for SQL, series pieces for InfluxQL,
// whole rows for Flight SQL metadata; and the iox::column::type marks on their columns.
#include <cctype>

#include "common/text.h"
#include "flight/internal.h"
#include "influxql/influxql.h"

namespace riffle::flight {
namespace {

// DuckDB's chunks: its own vectors when every column allows (no conversion at all), else
// DuckDB's Arrow export.
class DuckSource final : public ArrowSource {
 public:
  DuckSource(std::unique_ptr<query::ResultStream> stream, std::vector<WireColumn> columns,
             bool vectors)
      : stream_(std::move(stream)), columns_(std::move(columns)), vectors_(vectors) {}
  const std::vector<WireColumn>& columns() const override { return columns_; }
  Result<bool> Next(duck::OwnedArrowArray* out) override {
    out->Reset();
    return vectors_ ? stream_->NextVectors(out->get()) : stream_->NextArrow(out->get());
  }
  bool KeepsChunks() const override { return true; }

 private:
  std::unique_ptr<query::ResultStream> stream_;
  std::vector<WireColumn> columns_;
  bool vectors_;
};

// A view of arrays that ValueArrays owns: releasing it frees nothing.
void NoRelease(ArrowArray* a) { a->release = nullptr; }
bool View(const ArrowArray& array, duck::OwnedArrowArray* out) {
  out->Reset();
  *out->get() = array;
  out->get()->release = NoRelease;
  return true;
}

class WholeSource final : public ArrowSource {
 public:
  WholeSource(std::vector<WireColumn> columns, std::vector<std::vector<query::Value>> rows)
      : columns_(std::move(columns)), arrays_(Formats(columns_)) {
    for (const auto& r : rows) arrays_.AddRow(r);
  }
  const std::vector<WireColumn>& columns() const override { return columns_; }
  Result<bool> Next(duck::OwnedArrowArray* out) override {
    if (done_ || arrays_.rows() == 0) return false;
    done_ = true;
    return View(arrays_.Array(), out);
  }
  static std::vector<std::string> Formats(const std::vector<WireColumn>& columns) {
    std::vector<std::string> out;
    for (const auto& c : columns) out.push_back(c.format);
    return out;
  }

 private:
  std::vector<WireColumn> columns_;
  ValueArrays arrays_;
  bool done_ = false;
};

// InfluxQL's series as one table, as InfluxDB 3 answers InfluxQL over Flight: iox::measurement,
// the GROUP BY tags, then the statement's columns. Column types come from the first piece.
class SeriesSource final : public ArrowSource {
 public:
  SeriesSource(std::unique_ptr<influxql::SeriesStream> series, StatePtr state)
      : state_(std::move(state)), series_(std::move(series)) {}

  Status Prime(const catalog::Database& db) {
    bool continues = false;
    RIFFLE_ASSIGN_OR_RETURN(pending_, series_->Next(&piece_, &continues));
    std::vector<std::string> names = {"iox::measurement"};
    std::vector<std::string> formats = {"u"};
    if (pending_) {
      for (const auto& [k, v] : piece_.tags) {
        names.push_back(k);
        formats.push_back("u");
      }
      for (size_t c = 0; c < piece_.columns.size(); ++c) {
        names.push_back(piece_.columns[c]);
        const char* format = nullptr;
        for (const auto& row : piece_.values)
          if (c < row.size() && (format = FormatOfValue(row[c]))) break;
        formats.push_back(format ? format : (piece_.columns[c] == "time" ? "tsn:" : "u"));
      }
    } else {
      names.push_back("time");
      formats.push_back("tsn:");
    }
    for (size_t i = 0; i < names.size(); ++i)
      columns_.push_back(WireColumn{names[i], formats[i], {}, true, {}});
    // Marks come from the measurement's table when the statement reads one.
    if (pending_) {
      for (size_t i = 1; i <= piece_.tags.size(); ++i)
        columns_[i].metadata = {{"iox::column::type", "iox::column_type::tag"}};
      AnnotateColumns(db, "\"" + piece_.name + "\"", &columns_);
    }
    arrays_ = std::make_unique<ValueArrays>(formats);
    return Status::Ok();
  }

  const std::vector<WireColumn>& columns() const override { return columns_; }

  Result<bool> Next(duck::OwnedArrowArray* out) override {
    arrays_->Clear();
    // Pieces are gathered up to a few thousand rows, so small series share a batch.
    while (arrays_->rows() < 4096) {
      if (!pending_) {
        if (done_) break;
        bool continues = false;
        RIFFLE_ASSIGN_OR_RETURN(pending_, series_->Next(&piece_, &continues));
        if (!pending_) {
          done_ = true;
          break;
        }
      }
      std::vector<query::Value> row(columns_.size());
      for (const auto& values : piece_.values) {
        size_t c = 0;
        row[c++] = piece_.name;
        for (const auto& [k, v] : piece_.tags)
          if (c < row.size()) row[c++] = v;
        for (const auto& v : values)
          if (c < row.size()) row[c++] = v;
        for (; c < row.size(); ++c) row[c] = std::monostate{};
        arrays_->AddRow(row);
      }
      pending_ = false;
    }
    if (arrays_->rows() == 0) return false;
    return View(arrays_->Array(), out);
  }

 private:
  StatePtr state_;  // the catalog the statement was planned against, kept for its stream
  std::unique_ptr<influxql::SeriesStream> series_;
  influxql::Series piece_;
  bool pending_ = false, done_ = false;
  std::vector<WireColumn> columns_;
  std::unique_ptr<ValueArrays> arrays_;
};

const char* FormatOfColumn(catalog::ColumnType t) {
  using CT = catalog::ColumnType;
  switch (t) {
    case CT::kTag:
    case CT::kString:
      return "u";
    case CT::kInt64:
      return "l";
    case CT::kUInt64:
      return "L";
    case CT::kFloat64:
      return "g";
    case CT::kBool:
      return "b";
    case CT::kTime:
      return "tsn:";
  }
  return "";
}

const char* MarkOf(catalog::ColumnType t) {
  using CT = catalog::ColumnType;
  switch (t) {
    case CT::kTag:
      return "iox::column_type::tag";
    case CT::kString:
      return "iox::column_type::field::string";
    case CT::kInt64:
      return "iox::column_type::field::integer";
    case CT::kUInt64:
      return "iox::column_type::field::uinteger";
    case CT::kFloat64:
      return "iox::column_type::field::float";
    case CT::kBool:
      return "iox::column_type::field::boolean";
    case CT::kTime:
      return "iox::column_type::timestamp";
  }
  return "";
}

bool IsIdent(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Whether `name` appears in `text` as a whole identifier (case-insensitively).
bool Mentions(const std::string& text_lower, const std::string& name) {
  std::string n = AsciiLower(name);
  for (size_t at = text_lower.find(n); at != std::string::npos; at = text_lower.find(n, at + 1)) {
    bool before = at == 0 || !IsIdent(text_lower[at - 1]);
    bool after = at + n.size() >= text_lower.size() || !IsIdent(text_lower[at + n.size()]);
    if (before && after) return true;
  }
  return false;
}

}  // namespace

void AnnotateColumns(const catalog::Database& db, const std::string& query_text,
                     std::vector<WireColumn>* columns) {
  std::string text = AsciiLower(query_text);
  std::vector<const catalog::Table*> tables;
  for (const auto& [name, table] : db.tables)
    if (Mentions(text, name)) tables.push_back(table.get());
  for (auto& c : *columns) {
    if (!c.metadata.empty()) continue;
    for (const auto* t : tables) {
      const catalog::Column* col = t->Find(c.name);
      if (col && std::string(WireFormat(c.format)) == FormatOfColumn(col->type)) {
        c.metadata = {{"iox::column::type", MarkOf(col->type)}};
        break;
      }
    }
  }
}

Result<std::unique_ptr<ArrowSource>> SqlSource(std::unique_ptr<query::ResultStream> stream,
                                               const catalog::Database& db,
                                               const std::string& sql) {
  duck::OwnedArrowSchema schema;
  RIFFLE_RETURN_IF_ERROR(stream->ArrowSchemaOf(schema.get()));
  RIFFLE_ASSIGN_OR_RETURN(std::vector<WireColumn> columns, ColumnsOf(*schema));
  // DuckDB's vectors go out as they are when each column's layout is Arrow's (or nearly).
  bool vectors = false;
  if (const auto& formats = stream->VectorFormats(); formats && formats->size() == columns.size()) {
    vectors = true;
    for (size_t i = 0; i < columns.size(); ++i)
      vectors &= columns[i].format == WireFormat((*formats)[i]);
    if (vectors)
      for (size_t i = 0; i < columns.size(); ++i) columns[i].format = (*formats)[i];
  }
  AnnotateColumns(db, sql, &columns);
  return std::unique_ptr<ArrowSource>(
      std::make_unique<DuckSource>(std::move(stream), std::move(columns), vectors));
}

Result<std::unique_ptr<ArrowSource>> InfluxQLSource(query::QueryEngine& engine, StatePtr state_ptr,
                                                    const catalog::Database& db,
                                                    const std::string& text,
                                                    const std::string& params_json,
                                                    CancelPtr cancel) {
  const catalog::CatalogState& state = *state_ptr;
  auto statements = influxql::SplitStatements(text);
  if (statements.size() != 1)
    return Status::InvalidArgument("InfluxQL: expected exactly one statement, found " +
                                   std::to_string(statements.size()));
  RIFFLE_ASSIGN_OR_RETURN(auto params, influxql::ParseBoundParams(params_json));
  auto series = influxql::ExecuteStreaming(
      statements[0], state, db.name,
      [state_ptr, &engine, cancel](const std::string& database, const std::string& sql) {
        return engine.QueryStream(*state_ptr, database, sql, {}, cancel);
      },
      &params);
  if (!series.ok()) return series.status();
  auto source = std::make_unique<SeriesSource>(std::move(series).value(), state_ptr);
  RIFFLE_RETURN_IF_ERROR(source->Prime(db));
  return std::unique_ptr<ArrowSource>(std::move(source));
}

std::unique_ptr<ArrowSource> TableSource(std::vector<WireColumn> columns,
                                         std::vector<std::vector<query::Value>> rows) {
  return std::make_unique<WholeSource>(std::move(columns), std::move(rows));
}

}  // namespace riffle::flight
