// Statement dispatch: SHOW statements answered from the catalog (and DISTINCT queries for tag
// values and series), SELECT through the translation in select.cc, rows shaped into series.
#include <algorithm>

#include "common/text.h"
#include "influxql/influxql.h"
#include "influxql/lexer.h"
#include "influxql/manage.h"
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
      if (c == '\\' && i + 1 < text.size())
        current += text[++i];
      else if (c == quote)
        quote = 0;
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
                           [](const std::string& s) {
                             return s.find_first_not_of(" \t\r\n") == std::string::npos;
                           }),
            out.end());
  return out;
}

namespace {

const char* FieldTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kFloat64:
      return "float";
    case ColumnType::kInt64:
      return "integer";
    case ColumnType::kUInt64:
      return "unsigned";
    case ColumnType::kString:
      return "string";
    case ColumnType::kBool:
      return "boolean";
    default:
      return "";
  }
}

Status Unexpected(const Token& t, const std::string& expected) {
  return Status::InvalidArgument("error parsing query: found " +
                                 (t.type == TokenType::kEnd ? "EOF" : t.text) + ", expected " +
                                 expected);
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

// The trailing [WHERE cond] [LIMIT n] [OFFSET n] of a SHOW statement.
struct ShowTail {
  std::string where;  // SQL condition, empty when none
  int64_t limit = -1, offset = 0;
};

Result<ShowTail> ParseShowTail(const std::vector<Token>& tokens, size_t pos) {
  ShowTail tail;
  size_t end = pos;
  while (tokens[end].type != TokenType::kEnd) ++end;
  size_t where_end = end;
  for (size_t i = pos; i < end; ++i)
    if (tokens[i].IsKeyword("LIMIT") || tokens[i].IsKeyword("OFFSET")) {
      where_end = i;
      break;
    }
  if (pos < where_end) {
    if (!tokens[pos].IsKeyword("WHERE"))
      return Unexpected(tokens[pos], "WHERE, LIMIT, OFFSET or the end");
    RIFFLE_RETURN_IF_ERROR(CheckCondition(tokens, pos + 1, where_end));
    RIFFLE_ASSIGN_OR_RETURN(tail.where, TranslateExpression(tokens, pos + 1, where_end));
  }
  for (size_t i = where_end; i < end; i += 2) {
    if (tokens[i + 1].type != TokenType::kNumber) return Unexpected(tokens[i + 1], "a number");
    if (!tokens[i].IsKeyword("LIMIT") && !tokens[i].IsKeyword("OFFSET"))
      return Unexpected(tokens[i], "LIMIT or OFFSET");
    RIFFLE_ASSIGN_OR_RETURN((tokens[i].IsKeyword("LIMIT") ? tail.limit : tail.offset),
                            ParseCount(tokens[i + 1].text, tokens[i].text));
  }
  return tail;
}

template <typename T>
void ApplyLimit(std::vector<T>& values, const ShowTail& tail) {
  size_t from = std::min(values.size(), static_cast<size_t>(tail.offset));
  values.erase(values.begin(), values.begin() + static_cast<long>(from));
  if (tail.limit >= 0 && values.size() > static_cast<uint64_t>(tail.limit))
    values.resize(static_cast<size_t>(tail.limit));
}

// The names matching an InfluxQL /regex/, evaluated by the SQL engine's RE2 (as WHERE does),
// so that Grafana's (?i) works and a bad expression is an error, never a crash.
Result<std::vector<std::string>> MatchingNames(const std::vector<std::string>& names,
                                               const std::string& regex, const std::string& db,
                                               const SqlRunner& run_sql) {
  if (names.empty()) return names;
  std::string values;
  for (const auto& n : names) values += (values.empty() ? "(" : ", (") + QuoteLiteral(n) + ")";
  auto r = run_sql(db, "SELECT n FROM (VALUES " + values + ") AS t(n) WHERE regexp_matches(n, " +
                           QuoteLiteral(regex) + ") ORDER BY n");
  if (!r.ok())
    return Status::InvalidArgument("invalid regular expression /" + regex +
                                   "/: " + r.status().message());
  std::vector<std::string> out;
  for (const auto& row : r->rows) out.push_back(std::get<std::string>(row[0]));
  return out;
}

// Whether `table` has a row matching `where` (an SQL condition; false when it names columns
// the table lacks).
bool HasMatchingRow(const catalog::Table& table, const std::string& where, const std::string& db,
                    const SqlRunner& run_sql) {
  if (where.empty()) return true;
  auto r = run_sql(db, "SELECT 1 FROM " + QuoteIdent(table.name) + " WHERE " + where + " LIMIT 1");
  return r.ok() && !r->rows.empty();
}

Result<StatementResult> RunSelect(const std::vector<Token>& tokens,
                                  const catalog::CatalogState& state, const std::string& request_db,
                                  const SqlRunner& run_sql) {
  RIFFLE_ASSIGN_OR_RETURN(PlannedSelect planned, PlanSelect(tokens, state, request_db));
  StatementResult out;
  if (!planned.table) return out;  // InfluxQL: no such measurement, no series
  const SelectPlan& plan = planned.plan;
  RIFFLE_ASSIGN_OR_RETURN(query::QueryResult rows, run_sql(planned.db, plan.sql));
  size_t ntags = plan.group_tags.size();
  size_t ncols = rows.column_names.size() - ntags;
  std::vector<std::string> columns(rows.column_names.begin(),
                                   rows.column_names.begin() + static_cast<long>(ncols));
  for (auto& row : rows.rows) {
    std::vector<std::pair<std::string, std::string>> tags;
    for (size_t i = 0; i < ntags; ++i) {
      const auto* s = std::get_if<std::string>(&row[ncols + i]);
      tags.emplace_back(plan.group_tags[i], s ? *s : "");
    }
    if (out.series.empty() || out.series.back().tags != tags)
      out.series.push_back(Series{planned.table->name, tags, columns, {}});
    row.resize(ncols);
    out.series.back().values.push_back(std::move(row));
  }
  return out;
}

Result<StatementResult> RunShow(const std::vector<Token>& tokens,
                                const catalog::CatalogState& state, const std::string& request_db,
                                const SqlRunner& run_sql) {
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
    // One policy, autogen, whose duration is the database's retention period (0s: forever).
    std::string rp_db = request_db;
    if (tokens[pos + 2].IsKeyword("ON") && IsName(tokens[pos + 3])) rp_db = tokens[pos + 3].text;
    if (!request_db.empty() && rp_db != request_db)
      return Status::InvalidArgument("the statement's database '" + rp_db + "' differs from the request's '" +
                                     request_db + "'");
    const catalog::Database* d = state.FindDatabase(rp_db);
    int64_t ns = d && d->retention_ns ? *d->retention_ns : 0;
    std::string duration = "0s";
    if (ns > 0) {
      int64_t secs = ns / 1'000'000'000;
      duration = std::to_string(secs / 3600) + "h" + std::to_string(secs / 60 % 60) + "m" +
                 std::to_string(secs % 60) + "s";
    }
    out.series.push_back(
        Series{"",
               {},
               {"name", "duration", "shardGroupDuration", "replicaN", "default"},
               {{std::string("autogen"), duration, std::string("168h0m0s"), int64_t{1}, true}}});
    return out;
  }
  // The rest read one database: ON db, or the request's.
  std::string db_name = request_db;
  auto read_on = [&]() -> Status {
    if (tokens[pos].IsKeyword("ON")) {
      if (tokens[pos + 1].type != TokenType::kIdent &&
          tokens[pos + 1].type != TokenType::kQuotedIdent)
        return Unexpected(tokens[pos + 1], "a database name");
      db_name = tokens[pos + 1].text;
      pos += 2;
      // As for SELECT ... FROM db..m: a statement reads the request's database or names its own
      // when the request has none, never another one than the request's.
      if (!request_db.empty() && db_name != request_db)
        return Status::InvalidArgument("the statement's database '" + db_name + "' differs from the request's '" +
                                       request_db + "'");
    }
    return Status::Ok();
  };
  if (what == "measurements") {
    ++pos;
    RIFFLE_RETURN_IF_ERROR(read_on());
  } else if (what == "field" || what == "tag") {
    if (!tokens[pos + 1].IsKeyword(what == "tag" && tokens[pos + 1].IsKeyword("VALUES") ? "VALUES"
                                                                                        : "KEYS"))
      return Unexpected(tokens[pos + 1], what == "tag" ? "KEYS or VALUES" : "KEYS");
    pos += 2;
    RIFFLE_RETURN_IF_ERROR(read_on());
  } else if (what == "series") {
    ++pos;
    RIFFLE_RETURN_IF_ERROR(read_on());
  } else {
    return Status::Unimplemented(
        "InfluxQL: SHOW " + tokens[pos].text +
        " is not supported (supported: DATABASES, MEASUREMENTS, FIELD KEYS, TAG KEYS, "
        "TAG VALUES, SERIES, RETENTION POLICIES)");
  }
  const catalog::Database* db = state.FindDatabase(db_name);
  if (db_name.empty())
    return Status::InvalidArgument("database name required: set db or use ON <database>");
  if (!db) return Status::NotFound("database not found: " + db_name);

  if (what == "measurements") {
    std::vector<std::string> names;
    for (const auto& [name, table] : db->tables) names.push_back(name);
    if (tokens[pos].IsKeyword("WITH")) {
      if (!tokens[pos + 1].IsKeyword("MEASUREMENT"))
        return Unexpected(tokens[pos + 1], "MEASUREMENT");
      const Token& op = tokens[pos + 2];
      const Token& v = tokens[pos + 3];
      if (op.Is(TokenType::kOp, "=~") && v.type == TokenType::kRegex) {
        RIFFLE_ASSIGN_OR_RETURN(names, MatchingNames(names, v.text, db_name, run_sql));
      } else if (op.Is(TokenType::kOp, "=")) {
        std::vector<std::string> one;
        if (db->FindTable(v.text)) one.push_back(v.text);
        names = one;
      } else {
        return Unexpected(op, "=~ /regex/ or = name");
      }
      pos += 4;
    }
    RIFFLE_ASSIGN_OR_RETURN(ShowTail tail, ParseShowTail(tokens, pos));
    Series s{"measurements", {}, {"name"}, {}};
    for (const auto& name : names)
      if (HasMatchingRow(*db->FindTable(name), tail.where, db_name, run_sql))
        s.values.push_back({name});
    ApplyLimit(s.values, tail);
    if (!s.values.empty()) out.series.push_back(std::move(s));
    return out;
  }
  if (what == "field") {
    RIFFLE_ASSIGN_OR_RETURN(auto tables, ShowTables(tokens, &pos, *db));
    RIFFLE_ASSIGN_OR_RETURN(ShowTail tail, ParseShowTail(tokens, pos));
    if (!tail.where.empty())
      return Status::Unimplemented("InfluxQL: SHOW FIELD KEYS does not take WHERE");
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
    RIFFLE_ASSIGN_OR_RETURN(ShowTail tail, ParseShowTail(tokens, pos));
    for (const auto* t : tables) {
      if (!HasMatchingRow(*t, tail.where, db_name, run_sql)) continue;
      Series s{t->name, {}, {"tagKey"}, {}};
      for (const auto& name : ColumnsOf(*t, true)) s.values.push_back({name});
      ApplyLimit(s.values, tail);
      if (!s.values.empty()) out.series.push_back(std::move(s));
    }
    return out;
  }
  RIFFLE_ASSIGN_OR_RETURN(auto tables, ShowTables(tokens, &pos, *db));
  if (what == "series") {
    RIFFLE_ASSIGN_OR_RETURN(ShowTail tail, ParseShowTail(tokens, pos));
    auto escape = [](const std::string& sql) {  // as series keys escape them in line protocol
      return "replace(replace(replace(" + sql + ", ',', '\\,'), '=', '\\='), ' ', '\\ ')";
    };
    for (const auto* t : tables) {
      std::vector<std::string> tags = ColumnsOf(*t, true);
      std::string key = escape(QuoteLiteral(t->name));
      for (const auto& tag : tags)
        key += " || coalesce(" + QuoteLiteral("," + tag + "=") + " || " + escape(QuoteIdent(tag)) +
               ", '')";
      auto r =
          run_sql(db_name, "SELECT DISTINCT " + key + " AS key FROM " + QuoteIdent(t->name) +
                               (tail.where.empty() ? "" : " WHERE " + tail.where) + " ORDER BY 1");
      if (!r.ok()) {
        if (!tail.where.empty()) continue;  // the condition names columns this table lacks
        return r.status();
      }
      if (out.series.empty()) out.series.push_back(Series{"", {}, {"key"}, {}});
      for (auto& row : r->rows) out.series.back().values.push_back(std::move(row));
    }
    if (!out.series.empty()) ApplyLimit(out.series.back().values, tail);
    return out;
  }
  // SHOW TAG VALUES … WITH KEY = "k" | IN ("a", "b") | =~ /re/
  if (!tokens[pos].IsKeyword("WITH") || !tokens[pos + 1].IsKeyword("KEY"))
    return Unexpected(tokens[pos], "WITH KEY");
  pos += 2;
  std::vector<std::string> keys;
  std::string key_regex;
  if (tokens[pos].Is(TokenType::kOp, "=")) {
    keys.push_back(tokens[pos + 1].text);
    pos += 2;
  } else if (tokens[pos].IsKeyword("IN")) {
    size_t i = pos + 2;
    for (; tokens[i].type != TokenType::kEnd && !tokens[i].Is(TokenType::kOp, ")"); ++i)
      if (tokens[i].type == TokenType::kIdent || tokens[i].type == TokenType::kQuotedIdent)
        keys.push_back(tokens[i].text);
    pos = i + 1;
  } else if (tokens[pos].Is(TokenType::kOp, "=~") && tokens[pos + 1].type == TokenType::kRegex) {
    key_regex = tokens[pos + 1].text;
    pos += 2;
  } else {
    return Unexpected(tokens[pos], "= \"key\", IN (…) or =~ /regex/");
  }
  RIFFLE_ASSIGN_OR_RETURN(ShowTail tail, ParseShowTail(tokens, pos));
  for (const auto* t : tables) {
    std::vector<std::string> tag_keys = ColumnsOf(*t, true);
    if (!key_regex.empty()) {
      RIFFLE_ASSIGN_OR_RETURN(tag_keys, MatchingNames(tag_keys, key_regex, db_name, run_sql));
    } else {
      std::erase_if(tag_keys, [&](const std::string& k) {
        return std::find(keys.begin(), keys.end(), k) == keys.end();
      });
    }
    Series s{t->name, {}, {"key", "value"}, {}};
    for (const auto& tag : tag_keys) {
      auto r = run_sql(db_name,
                       "SELECT DISTINCT " + QuoteIdent(tag) + " FROM " + QuoteIdent(t->name) +
                           " WHERE " + QuoteIdent(tag) + " IS NOT NULL" +
                           (tail.where.empty() ? "" : " AND (" + tail.where + ")") + " ORDER BY 1");
      if (!r.ok()) {
        if (!tail.where.empty()) continue;  // the condition names columns this table lacks
        return r.status();
      }
      for (auto& row : r->rows) s.values.push_back({tag, row[0]});
    }
    ApplyLimit(s.values, tail);
    if (!s.values.empty()) out.series.push_back(std::move(s));
  }
  return out;
}

}  // namespace

Result<PlannedSelect> PlanSelect(const std::vector<Token>& tokens,
                                 const catalog::CatalogState& state, const std::string& request_db,
                                 bool fill_in_stream) {
  RIFFLE_ASSIGN_OR_RETURN(Source source, SelectSource(tokens));
  PlannedSelect out;
  out.db = source.db.empty() ? request_db : source.db;
  if (!source.db.empty() && !request_db.empty() && source.db != request_db)
    return Status::InvalidArgument("the statement's database '" + source.db +
                                   "' differs from the request's '" + request_db + "'");
  const catalog::Database* db = state.FindDatabase(out.db);
  if (!db) return Status::NotFound("database not found: " + out.db);
  out.table = db->FindTable(source.measurement);
  if (!out.table) return out;
  RIFFLE_ASSIGN_OR_RETURN(out.plan, TranslateSelect(tokens, *out.table, fill_in_stream));
  return out;
}

Result<StatementResult> Execute(const std::string& statement, const catalog::CatalogState& state,
                                const std::string& db, const SqlRunner& run_sql,
                                const std::map<std::string, std::string>* params,
                                catalog::Catalog* catalog) {
  RIFFLE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lex(statement, params));
  return ExecuteTokens(tokens, state, db, run_sql, catalog);
}

Result<StatementResult> ExecuteTokens(const std::vector<Token>& tokens,
                                      const catalog::CatalogState& state, const std::string& db,
                                      const SqlRunner& run_sql, catalog::Catalog* catalog) {
  if (IsManagement(tokens)) return RunManagement(tokens, db, catalog);
  if (tokens[0].IsKeyword("SELECT")) return RunSelect(tokens, state, db, run_sql);
  if (tokens[0].IsKeyword("SHOW")) return RunShow(tokens, state, db, run_sql);
  if (tokens[0].type == TokenType::kEnd)
    return Status::InvalidArgument("error parsing query: empty query");
  return Status::Unimplemented(
      "InfluxQL: " + tokens[0].text +
      " statements are not supported (supported: SELECT, SHOW, CREATE, ALTER and DROP)");
}

}  // namespace riffle::influxql
