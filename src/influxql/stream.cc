// InfluxQL results as a stream of series pieces (see SeriesStream in influxql.h).
#include <algorithm>
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
    return SeriesTagsAt(batch_, row, ncols_, group_tags_);
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

std::vector<std::pair<std::string, std::string>> SeriesTagsAt(
    const query::Batch& batch, size_t row, size_t first,
    const std::vector<std::string>& group_tags) {
  std::vector<std::pair<std::string, std::string>> tags;
  for (size_t i = 0; i < group_tags.size(); ++i) {
    const auto* s = std::get_if<std::string>(&batch.at(row, first + i));
    tags.emplace_back(group_tags[i], s ? *s : "");
  }
  return tags;
}

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


bool IsSelect(const std::string& statement) {
  size_t i = statement.find_first_not_of(" \t\r\n");
  if (i == std::string::npos || statement.size() - i < 6) return false;
  for (size_t k = 0; k < 6; ++k)
    if (std::tolower(static_cast<unsigned char>(statement[i + k])) != "select"[k]) return false;
  return statement.size() - i == 6 || !std::isalnum(static_cast<unsigned char>(statement[i + 6]));
}

Status CheckReadsOnlyItsDatabase(const std::vector<std::string>& statements,
                                 const std::map<std::string, std::string>* params) {
  // On the lexer's tokens, so a quoted name ("databases", "into") is never taken for a keyword;
  // a statement that does not lex runs nothing.
  auto reads_only = [params](const std::string& statement) {
    auto tokens = Lex(statement, params);
    if (!tokens.ok() || tokens->empty()) return false;
    const std::vector<Token>& t = *tokens;
    if (t[0].IsKeyword("SELECT"))
      return std::none_of(t.begin(), t.end(), [](const Token& k) { return k.IsKeyword("INTO"); });
    return t[0].IsKeyword("SHOW") && !(t.size() > 1 && t[1].IsKeyword("DATABASES"));
  };
  for (const auto& statement : statements)
    if (!reads_only(statement))
      return Status(Code::kForbidden, "permission denied: '" + statement +
                                          "' needs an admin token; a resource token may run SELECT and SHOW "
                                          "statements on its database (not SHOW DATABASES)");
  return Status::Ok();
}

Result<std::unique_ptr<SeriesStream>> ExecuteStreaming(
    const std::string& statement, const catalog::CatalogState& state, const std::string& db,
    const SqlStreamer& stream_sql, const std::map<std::string, std::string>* params,
    catalog::Catalog* catalog) {
  RIFFLE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lex(statement, params));
  if (tokens[0].IsKeyword("SELECT")) {
    RIFFLE_ASSIGN_OR_RETURN(PlannedSelect planned,
                            PlanSelect(tokens, state, db, /*fill_in_stream=*/true));
    if (!planned.table)
      return std::unique_ptr<SeriesStream>(std::make_unique<WholeStream>(StatementResult{}));
    RIFFLE_ASSIGN_OR_RETURN(std::unique_ptr<query::ResultStream> rows,
                            stream_sql(planned.db, planned.plan.sql));
    if (planned.plan.fill)
      return FilledStream(std::move(rows), planned.table->name, planned.plan.group_tags,
                          *planned.plan.fill);
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
