// Statement dispatch: SHOW statements answered from the catalog (and DISTINCT queries for tag
// values and series), SELECT through the translation in select.cc, rows shaped into series.
#include <algorithm>
#include <regex>

#include "common/text.h"
#include "influxql/influxql.h"
#include "influxql/lexer.h"
#include "influxql/select.h"
#include "query/sql_compat.h"

namespace riffle::influxql {

using catalog::ColumnType;
using query::QuoteIdent;
using query::QuoteLiteral;

std::vector<std::string> SplitStatements(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      current += c;
      if (c == '\\' && i + 1 < text.size()) current += text[++i];
      else if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
      current += c;
    } else if (c == ';') {
      out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  out.push_back(current);
  // Blank statements (a trailing semicolon) are dropped.
  out.erase(std::remove_if(out.begin(), out.end(),
                           [](const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }),
            out.end());
  return out;
}

namespace {

const char* FieldTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kFloat64: return "float";
    case ColumnType::kInt64: return "integer";
    case ColumnType::kUInt64: return "unsigned";
    case ColumnType::kString: return "string";
    case ColumnType::kBool: return "boolean";
    default: return "";
  }
}

Status Unexpected(const Token& t, const std::string& expected) {
  return Status::InvalidArgument("error parsing query: found " + (t.type == TokenType::kEnd ? "EOF" : t.text) +
                                 ", expected " + expected);
}

// The tables a SHOW … [FROM m] covers, by name.
Result<std::vector<const catalog::Table*>> ShowTables(const std::vector<Token>& tokens, size_t* pos,
                                                       const catalog::Database& db) {
  std::vector<const catalog::Table*> out;
  if (tokens[*pos].IsKeyword("FROM")) {
    ++*pos;
    RIFFLE_ASSIGN_OR_RETURN(Source source, ParseSource(tokens, pos));
    if (const catalog::Table* t = db.FindTable(source.measurement)) out.push_back(t);
    return out;
  }
  for (const auto& [name, table] : db.tables) out.push_back(table.get());
  return out;
}

std::vector<std::string> ColumnsOf(const catalog::Table& t, bool tags) {
  std::vector<std::string> out;
  for (const auto& c : t.columns)
    if ((c.type == ColumnType::kTag) == tags && c.type != ColumnType::kTime) out.push_back(c.name);
  std::sort(out.begin(), out.end());
  return out;
}

Result<StatementResult> RunSelect(const std::vector<Token>& tokens, const catalog::CatalogState& state,
                                  const std::string& request_db, const SqlRunner& run_sql) {
  RIFFLE_ASSIGN_OR_RETURN(Source source, SelectSource(tokens));
  std::string db_name = source.db.empty() ? request_db : source.db;
  if (!source.db.empty() && !request_db.empty() && source.db != request_db)
    return Status::InvalidArgument("the statement's database '" + source.db + "' differs from the request's '" +
                                   request_db + "'");
  const catalog::Database* db = state.FindDatabase(db_name);
  if (!db) return Status::NotFound("database not found: " + db_name);
  StatementResult out;
  const catalog::Table* table = db->FindTable(source.measurement);
  if (!table) return out;  // InfluxQL: no such measurement, no series
  RIFFLE_ASSIGN_OR_RETURN(SelectPlan plan, TranslateSelect(tokens, *table));
  RIFFLE_ASSIGN_OR_RETURN(query::QueryResult rows, run_sql(db_name, plan.sql));
  size_t ntags = plan.group_tags.size();
  size_t ncols = rows.column_names.size() - ntags;
  std::vector<std::string> columns(rows.column_names.begin(), rows.column_names.begin() + static_cast<long>(ncols));
  for (auto& row : rows.rows) {
    std::vector<std::pair<std::string, std::string>> tags;
    for (size_t i = 0; i < ntags; ++i) {
      const auto* s = std::get_if<std::string>(&row[ncols + i]);
      tags.emplace_back(plan.group_tags[i], s ? *s : "");
    }
    if (out.series.empty() || out.series.back().tags != tags)
      out.series.push_back(Series{table->name, tags, columns, {}});
    row.resize(ncols);
    out.series.back().values.push_back(std::move(row));
  }
  return out;
}

Result<StatementResult> RunShow(const std::vector<Token>& tokens, const catalog::CatalogState& state,
                                const std::string& request_db, const SqlRunner& run_sql) {
  size_t pos = 1;
  std::string what = AsciiLower(tokens[pos].text);
  StatementResult out;
  if (what == "databases") {
    Series s{"databases", {}, {"name"}, {}};
    for (const auto& [name, db] : state.databases)
      if (!db->deleted) s.values.push_back({name});
    out.series.push_back(std::move(s));
    return out;
  }
  if (what == "retention") {
    if (!tokens[pos + 1].IsKeyword("POLICIES")) return Unexpected(tokens[pos + 1], "POLICIES");
    out.series.push_back(Series{"", {}, {"name", "duration", "shardGroupDuration", "replicaN", "default"},
                                {{std::string("autogen"), std::string("0s"), std::string("168h0m0s"), int64_t{1}, true}}});
    return out;
  }
  // The rest read one database: ON db, or the request's.
  std::string db_name = request_db;
  auto read_on = [&]() -> Status {
    if (tokens[pos].IsKeyword("ON")) {
      if (tokens[pos + 1].type != TokenType::kIdent && tokens[pos + 1].type != TokenType::kQuotedIdent)
        return Unexpected(tokens[pos + 1], "a database name");
      db_name = tokens[pos + 1].text;
      pos += 2;
    }
    return Status::Ok();
  };
  if (what == "measurements") {
    ++pos;
    RIFFLE_RETURN_IF_ERROR(read_on());
  } else if (what == "field" || what == "tag") {
    if (!tokens[pos + 1].IsKeyword(what == "tag" && tokens[pos + 1].IsKeyword("VALUES") ? "VALUES" : "KEYS"))
      return Unexpected(tokens[pos + 1], what == "tag" ? "KEYS or VALUES" : "KEYS");
    pos += 2;
    RIFFLE_RETURN_IF_ERROR(read_on());
  } else if (what == "series") {
    ++pos;
    RIFFLE_RETURN_IF_ERROR(read_on());
  } else {
    return Status::Unimplemented("InfluxQL: SHOW " + tokens[pos].text +
                                 " is not supported (supported: DATABASES, MEASUREMENTS, FIELD KEYS, TAG KEYS, "
                                 "TAG VALUES, SERIES, RETENTION POLICIES)");
  }
  const catalog::Database* db = state.FindDatabase(db_name);
  if (db_name.empty()) return Status::InvalidArgument("database name required: set db or use ON <database>");
  if (!db) return Status::NotFound("database not found: " + db_name);

  if (what == "measurements") {
    std::optional<std::regex> filter;
    std::string equals;
    if (tokens[pos].IsKeyword("WITH")) {
      if (!tokens[pos + 1].IsKeyword("MEASUREMENT")) return Unexpected(tokens[pos + 1], "MEASUREMENT");
      const Token& op = tokens[pos + 2];
      const Token& v = tokens[pos + 3];
      if (op.Is(TokenType::kOp, "=~") && v.type == TokenType::kRegex) filter.emplace(v.text);
      else if (op.Is(TokenType::kOp, "=")) equals = v.text;
      else return Unexpected(op, "=~ /regex/ or = name");
      pos += 4;
    }
    Series s{"measurements", {}, {"name"}, {}};
    for (const auto& [name, table] : db->tables) {
      if (filter && !std::regex_search(name, *filter)) continue;
      if (!equals.empty() && name != equals) continue;
      s.values.push_back({name});
    }
    if (!s.values.empty()) out.series.push_back(std::move(s));
    return out;
  }
  if (what == "field") {
    RIFFLE_ASSIGN_OR_RETURN(auto tables, ShowTables(tokens, &pos, *db));
    for (const auto* t : tables) {
      Series s{t->name, {}, {"fieldKey", "fieldType"}, {}};
      for (const auto& name : ColumnsOf(*t, false))
        s.values.push_back({name, std::string(FieldTypeName(t->columns[t->index.at(name)].type))});
      if (!s.values.empty()) out.series.push_back(std::move(s));
    }
    return out;
  }
  bool tag_values = what == "tag" && tokens[2].IsKeyword("VALUES");
  if (what == "tag" && !tag_values) {
    RIFFLE_ASSIGN_OR_RETURN(auto tables, ShowTables(tokens, &pos, *db));
    for (const auto* t : tables) {
      Series s{t->name, {}, {"tagKey"}, {}};
      for (const auto& name : ColumnsOf(*t, true)) s.values.push_back({name});
      if (!s.values.empty()) out.series.push_back(std::move(s));
    }
    return out;
  }
  RIFFLE_ASSIGN_OR_RETURN(auto tables, ShowTables(tokens, &pos, *db));
  if (what == "series") {
    for (const auto* t : tables) {
      std::vector<std::string> tags = ColumnsOf(*t, true);
      std::string key = QuoteLiteral(t->name);
      for (const auto& tag : tags)
        key += " || coalesce(" + QuoteLiteral("," + tag + "=") + " || " + QuoteIdent(tag) + ", '')";
      RIFFLE_ASSIGN_OR_RETURN(query::QueryResult r, run_sql(db_name, "SELECT DISTINCT " + key + " AS key FROM " +
                                                                      QuoteIdent(t->name) + " ORDER BY 1"));
      if (out.series.empty()) out.series.push_back(Series{"", {}, {"key"}, {}});
      for (auto& row : r.rows) out.series.back().values.push_back(std::move(row));
    }
    return out;
  }
  // SHOW TAG VALUES … WITH KEY = "k" | IN ("a", "b") | =~ /re/
  if (!tokens[pos].IsKeyword("WITH") || !tokens[pos + 1].IsKeyword("KEY"))
    return Unexpected(tokens[pos], "WITH KEY");
  pos += 2;
  std::vector<std::string> keys;
  std::optional<std::regex> key_filter;
  if (tokens[pos].Is(TokenType::kOp, "=") || tokens[pos].Is(TokenType::kOp, "==")) {
    keys.push_back(tokens[pos + 1].text);
  } else if (tokens[pos].IsKeyword("IN")) {
    for (size_t i = pos + 2; tokens[i].type != TokenType::kEnd && !tokens[i].Is(TokenType::kOp, ")"); ++i)
      if (tokens[i].type == TokenType::kIdent || tokens[i].type == TokenType::kQuotedIdent) keys.push_back(tokens[i].text);
  } else if (tokens[pos].Is(TokenType::kOp, "=~") && tokens[pos + 1].type == TokenType::kRegex) {
    key_filter.emplace(tokens[pos + 1].text);
  } else {
    return Unexpected(tokens[pos], "= \"key\", IN (…) or =~ /regex/");
  }
  for (const auto* t : tables) {
    Series s{t->name, {}, {"key", "value"}, {}};
    for (const auto& tag : ColumnsOf(*t, true)) {
      if (key_filter ? !std::regex_search(tag, *key_filter) : std::find(keys.begin(), keys.end(), tag) == keys.end())
        continue;
      RIFFLE_ASSIGN_OR_RETURN(query::QueryResult r,
                              run_sql(db_name, "SELECT DISTINCT " + QuoteIdent(tag) + " FROM " + QuoteIdent(t->name) +
                                                   " WHERE " + QuoteIdent(tag) + " IS NOT NULL ORDER BY 1"));
      for (auto& row : r.rows) s.values.push_back({tag, row[0]});
    }
    if (!s.values.empty()) out.series.push_back(std::move(s));
  }
  return out;
}

}  // namespace

Result<StatementResult> Execute(const std::string& statement, const catalog::CatalogState& state,
                                const std::string& db, const SqlRunner& run_sql) {
  RIFFLE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lex(statement));
  if (tokens[0].IsKeyword("SELECT")) return RunSelect(tokens, state, db, run_sql);
  if (tokens[0].IsKeyword("SHOW")) return RunShow(tokens, state, db, run_sql);
  if (tokens[0].type == TokenType::kEnd) return Status::InvalidArgument("error parsing query: empty query");
  return Status::Unimplemented("InfluxQL: " + tokens[0].text +
                               " statements are not supported (supported: SELECT and SHOW)");
}

}  // namespace riffle::influxql
