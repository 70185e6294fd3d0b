// InfluxQL results as a stream of series pieces (see SeriesStream in influxql.h).
#include <cctype>
#include <nlohmann/json.hpp>

#include "influxql/influxql.h"
#include "influxql/lexer.h"
#include "influxql/select.h"

namespace riffle::influxql {
namespace {

// A SELECT's rows come ordered by their GROUP BY tags, so a series ends where the tags change.
class SelectStream final : public SeriesStream {
 public:
  SelectStream(std::unique_ptr<query::ResultStream> rows, std::string name,
               std::vector<std::string> group_tags)
      : rows_(std::move(rows)), name_(std::move(name)), group_tags_(std::move(group_tags)) {
    const auto& names = rows_->column_names();
    ncols_ = names.size() - group_tags_.size();
    columns_.assign(names.begin(), names.begin() + static_cast<long>(ncols_));
  }

  Result<bool> Next(Series* piece, bool* continues) override {
    while (pos_ >= batch_.rows) {
      if (!rows_) return false;
      auto more = rows_->Next(&batch_);
      if (!more.ok()) return more.status();
      if (!*more) {
        rows_.reset();
        return false;
      }
      pos_ = 0;
    }
    auto tags = TagsAt(pos_);
    *continues = started_ && tags == current_;
    started_ = true;
    current_ = tags;
    piece->name = name_;
    piece->tags = std::move(tags);
    piece->columns = columns_;
    piece->values.clear();
    for (; pos_ < batch_.rows && (piece->values.empty() || TagsAt(pos_) == current_); ++pos_) {
      std::vector<query::Value> row(ncols_);
      for (size_t c = 0; c < ncols_; ++c) row[c] = std::move(batch_.columns[c][pos_]);
      piece->values.push_back(std::move(row));
    }
    return true;
  }

 private:
  std::vector<std::pair<std::string, std::string>> TagsAt(size_t row) const {
    std::vector<std::pair<std::string, std::string>> tags;
    for (size_t i = 0; i < group_tags_.size(); ++i) {
      const auto* s = std::get_if<std::string>(&batch_.at(row, ncols_ + i));
      tags.emplace_back(group_tags_[i], s ? *s : "");
    }
    return tags;
  }

  std::unique_ptr<query::ResultStream> rows_;
  std::string name_;
  std::vector<std::string> group_tags_, columns_;
  size_t ncols_ = 0;
  query::Batch batch_;
  size_t pos_ = 0;
  bool started_ = false;
  std::vector<std::pair<std::string, std::string>> current_;
};

// Series computed whole (SHOW statements), handed out one at a time.
class WholeStream final : public SeriesStream {
 public:
  explicit WholeStream(StatementResult result) : result_(std::move(result)) {}
  Result<bool> Next(Series* piece, bool* continues) override {
    if (next_ >= result_.series.size()) return false;
    *piece = std::move(result_.series[next_++]);
    *continues = false;
    return true;
  }

 private:
  StatementResult result_;
  size_t next_ = 0;
};

}  // namespace

Result<std::map<std::string, std::string>> ParseBoundParams(const std::string& json_text) {
  std::map<std::string, std::string> out;
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object())
    return Status::InvalidArgument("error parsing query parameters: expected a JSON object");
  for (const auto& [name, value] : j.items()) {
    if (value.is_string()) {
      std::string quoted = "'";
      for (char c : value.get<std::string>()) {
        if (c == '\'' || c == '\\') quoted += '\\';
        quoted += c;
      }
      out[name] = quoted + "'";
    } else if (value.is_number() || value.is_boolean()) {
      out[name] = value.dump();
    } else {
      return Status::InvalidArgument("error parsing query parameters: $" + name +
                                     " must be a string, a number or a boolean");
    }
  }
  return out;
}

namespace {

std::string LowerAscii(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool FirstWordIs(const std::string& statement, const char* word) {
  std::string lower = LowerAscii(statement);
  size_t i = lower.find_first_not_of(" \t\r\n");
  size_t n = std::char_traits<char>::length(word);
  if (i == std::string::npos || lower.compare(i, n, word) != 0) return false;
  return i + n == lower.size() || !std::isalnum(static_cast<unsigned char>(lower[i + n]));
}

// `word` as a whole word anywhere outside quotes (a deny check: a quoted name never matches).
bool ContainsWord(const std::string& statement, const char* word) {
  std::string lower = LowerAscii(statement);
  size_t n = std::char_traits<char>::length(word);
  char quote = 0;
  for (size_t i = 0; i < lower.size(); ++i) {
    char c = lower[i];
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      continue;
    }
    bool start = i == 0 || !(std::isalnum(static_cast<unsigned char>(lower[i - 1])) || lower[i - 1] == '_');
    if (start && lower.compare(i, n, word) == 0 &&
        (i + n == lower.size() || !(std::isalnum(static_cast<unsigned char>(lower[i + n])) || lower[i + n] == '_')))
      return true;
  }
  return false;
}

}  // namespace

bool IsSelect(const std::string& statement) {
  size_t i = statement.find_first_not_of(" \t\r\n");
  if (i == std::string::npos || statement.size() - i < 6) return false;
  for (size_t k = 0; k < 6; ++k)
    if (std::tolower(static_cast<unsigned char>(statement[i + k])) != "select"[k]) return false;
  return statement.size() - i == 6 || !std::isalnum(static_cast<unsigned char>(statement[i + 6]));
}

bool ReadsOnlyItsDatabase(const std::string& statement) {
  if (IsSelect(statement)) return !ContainsWord(statement, "into");
  return FirstWordIs(statement, "show") && !ContainsWord(statement, "databases");
}

Result<std::unique_ptr<SeriesStream>> ExecuteStreaming(
    const std::string& statement, const catalog::CatalogState& state, const std::string& db,
    const SqlStreamer& stream_sql, const std::map<std::string, std::string>* params,
    catalog::Catalog* catalog) {
  RIFFLE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lex(statement, params));
  if (tokens[0].IsKeyword("SELECT")) {
    RIFFLE_ASSIGN_OR_RETURN(PlannedSelect planned, PlanSelect(tokens, state, db));
    if (!planned.table)
      return std::unique_ptr<SeriesStream>(std::make_unique<WholeStream>(StatementResult{}));
    RIFFLE_ASSIGN_OR_RETURN(std::unique_ptr<query::ResultStream> rows,
                            stream_sql(planned.db, planned.plan.sql));
    return std::unique_ptr<SeriesStream>(std::make_unique<SelectStream>(
        std::move(rows), planned.table->name, planned.plan.group_tags));
  }
  auto whole = ExecuteTokens(
      tokens, state, db,
      [&](const std::string& d, const std::string& sql) -> Result<query::QueryResult> {
        auto rows = stream_sql(d, sql);
        if (!rows.ok()) return rows.status();
        return query::Collect(**rows);
      },
      catalog);
  if (!whole.ok()) return whole.status();
  return std::unique_ptr<SeriesStream>(std::make_unique<WholeStream>(std::move(whole).value()));
}

}  // namespace riffle::influxql
