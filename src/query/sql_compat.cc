#include "query/sql_compat.h"

#include <cctype>
#include <functional>
#include <map>

#include "common/text.h"

namespace riffle::query {
namespace {

enum class TokKind { kWord, kQuoted, kString, kDot, kParam, kSpace, kOther };

struct Token {
  TokKind kind;
  size_t begin, end;
  std::string text;  // identifier value (unquoted, lower-cased for words) or param name
};

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80); }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80); }

Result<std::vector<Token>> Tokenize(const std::string& sql) {
  std::vector<Token> toks;
  size_t i = 0, n = sql.size();
  while (i < n) {
    char c = sql[i];
    size_t start = i;
    if (std::isspace(static_cast<unsigned char>(c))) {
      while (i < n && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
      toks.push_back({TokKind::kSpace, start, i, {}});
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      while (i < n && sql[i] != '\n') ++i;
      toks.push_back({TokKind::kSpace, start, i, {}});
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      size_t close = sql.find("*/", i + 2);
      if (close == std::string::npos) return Status::InvalidArgument("unterminated /* comment in SQL");
      i = close + 2;
      toks.push_back({TokKind::kSpace, start, i, {}});
    } else if (c == '\'' || c == '"') {
      std::string value;
      ++i;
      for (;;) {
        if (i >= n)
          return Status::InvalidArgument(c == '\'' ? "unterminated string literal in SQL"
                                                   : "unterminated quoted identifier in SQL");
        if (sql[i] == c) {
          if (i + 1 < n && sql[i + 1] == c) {
            value.push_back(c);
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        value.push_back(sql[i++]);
      }
      toks.push_back({c == '\'' ? TokKind::kString : TokKind::kQuoted, start, i, value});
    } else if (c == '$' && i + 1 < n && IsIdentStart(sql[i + 1])) {
      ++i;
      while (i < n && IsIdentChar(sql[i])) ++i;
      toks.push_back({TokKind::kParam, start, i, sql.substr(start + 1, i - start - 1)});
    } else if (IsIdentStart(c)) {
      while (i < n && IsIdentChar(sql[i])) ++i;
      toks.push_back(
          {TokKind::kWord, start, i, AsciiLower(std::string_view(sql).substr(start, i - start))});
    } else if (c == '.') {
      ++i;
      toks.push_back({TokKind::kDot, start, i, {}});
    } else {
      ++i;
      toks.push_back({TokKind::kOther, start, i, {}});
    }
  }
  return toks;
}

bool IsName(const Token& t) { return t.kind == TokKind::kWord || t.kind == TokKind::kQuoted; }

// Index of the next non-space token at or after i, or toks.size().
size_t Skip(const std::vector<Token>& toks, size_t i) {
  while (i < toks.size() && toks[i].kind == TokKind::kSpace) ++i;
  return i;
}

// The name of token t as the user meant it (words are case-insensitive).
std::string NameOf(const Token& t) { return t.text; }

bool IsChar(const std::string& sql, const Token& t, char c) {
  return t.kind == TokKind::kOther && t.end == t.begin + 1 && sql[t.begin] == c;
}

// Index of the ')' closing the '(' at toks[open], or toks.size().
size_t MatchingParen(const std::string& sql, const std::vector<Token>& toks, size_t open) {
  int depth = 0;
  for (size_t i = open; i < toks.size(); ++i) {
    if (IsChar(sql, toks[i], '(')) ++depth;
    if (IsChar(sql, toks[i], ')') && --depth == 0) return i;
  }
  return toks.size();
}

// The last ',' directly inside the parentheses (open, close), or close when there is none.
size_t LastTopLevelComma(const std::string& sql, const std::vector<Token>& toks, size_t open, size_t close) {
  size_t found = close;
  int depth = 0;
  for (size_t i = open + 1; i < close; ++i) {
    if (IsChar(sql, toks[i], '(')) ++depth;
    if (IsChar(sql, toks[i], ')')) --depth;
    if (depth == 0 && IsChar(sql, toks[i], ',')) found = i;
  }
  return found;
}

// Arrow type names (as DataFusion's arrow_cast takes them) → DuckDB types.
Result<std::string> DuckTypeOfArrow(const std::string& arrow) {
  static const std::map<std::string, std::string> kTypes = {
      {"Int8", "TINYINT"},      {"Int16", "SMALLINT"},      {"Int32", "INTEGER"},    {"Int64", "BIGINT"},
      {"UInt8", "UTINYINT"},    {"UInt16", "USMALLINT"},    {"UInt32", "UINTEGER"},  {"UInt64", "UBIGINT"},
      {"Float16", "FLOAT"},     {"Float32", "FLOAT"},       {"Float64", "DOUBLE"},   {"Utf8", "VARCHAR"},
      {"LargeUtf8", "VARCHAR"}, {"Utf8View", "VARCHAR"},    {"Boolean", "BOOLEAN"},  {"Date32", "DATE"},
      {"Date64", "DATE"},       {"Binary", "BLOB"},         {"LargeBinary", "BLOB"},
      {"Timestamp(Nanosecond, None)", "TIMESTAMP_NS"},      {"Timestamp(Microsecond, None)", "TIMESTAMP"},
      {"Timestamp(Millisecond, None)", "TIMESTAMP_MS"},     {"Timestamp(Second, None)", "TIMESTAMP_S"},
  };
  auto it = kTypes.find(arrow);
  if (it != kTypes.end()) return it->second;
  std::string known;
  for (const auto& [name, duck] : kTypes) known += (known.empty() ? "" : ", ") + name;
  return Status::InvalidArgument("arrow_cast: unsupported type '" + arrow + "': expected one of " + known);
}

}  // namespace

Result<RewrittenSql> RewriteSql(const std::string& sql,
                                const std::function<bool(const std::string&, std::string*)>& table_param) {
  auto tokens = Tokenize(sql);
  if (!tokens.ok()) return tokens.status();
  const auto& toks = *tokens;
  RewrittenSql out;

  // Whole-statement forms first.
  size_t first = Skip(toks, 0);
  if (first < toks.size() && toks[first].kind == TokKind::kWord && toks[first].text == "show") {
    size_t second = Skip(toks, first + 1);
    if (second < toks.size() && toks[second].kind == TokKind::kWord && toks[second].text == "tables") {
      size_t rest = Skip(toks, second + 1);
      while (rest < toks.size() && toks[rest].kind == TokKind::kOther && sql[toks[rest].begin] == ';')
        rest = Skip(toks, rest + 1);
      if (rest == toks.size()) {
        out.needs_info_tables = true;
        out.sql = std::string("SELECT table_catalog, table_schema, table_name, table_type FROM temp.main.") +
                  kInfoTablesName + " ORDER BY table_schema, table_name";
        return out;
      }
    }
    if (second < toks.size() && toks[second].kind == TokKind::kWord && toks[second].text == "columns") {
      size_t kw = Skip(toks, second + 1);
      size_t name = Skip(toks, kw + 1);
      if (kw < toks.size() && toks[kw].kind == TokKind::kWord &&
          (toks[kw].text == "from" || toks[kw].text == "in") && name < toks.size() && IsName(toks[name])) {
        out.needs_info_columns = true;
        out.sql = std::string(
                      "SELECT table_catalog, table_schema, table_name, column_name, data_type, is_nullable "
                      "FROM temp.main.") +
                  kInfoColumnsName + " WHERE table_name = " + QuoteLiteral(NameOf(toks[name])) +
                  " ORDER BY column_name";
        return out;
      }
    }
  }

  std::string result;
  result.reserve(sql.size() + 64);
  size_t copied = 0;  // sql[0, copied) is already in result
  auto replace = [&](size_t begin, size_t end, const std::string& with) {
    result.append(sql, copied, begin - copied);
    result.append(with);
    copied = end;
  };

  // arrow_cast(x, 'Type') → CAST(x AS TYPE): the tail ", 'Type')" is replaced when the scan
  // reaches it, so x itself is still rewritten. Keyed by the comma's token index.
  std::map<size_t, std::pair<size_t, std::string>> pending_tails;

  for (size_t i = 0; i < toks.size(); ++i) {
    const Token& t = toks[i];
    if (auto tail = pending_tails.find(i); tail != pending_tails.end()) {
      replace(t.begin, toks[tail->second.first].end, " AS " + tail->second.second + ")");
      i = tail->second.first;
      continue;
    }
    if (t.kind == TokKind::kWord && (i == 0 || toks[i - 1].kind != TokKind::kDot)) {
      size_t open = Skip(toks, i + 1);
      if (open < toks.size() && IsChar(sql, toks[open], '(')) {
        size_t close = MatchingParen(sql, toks, open);
        if (close < toks.size() && (t.text == "last_cache" || t.text == "distinct_cache")) {
          // last_cache('table'[, 'name']): string literals only, as InfluxDB 3 takes them.
          size_t a = Skip(toks, open + 1);
          size_t after_a = a < close ? Skip(toks, a + 1) : close;
          CacheCall call;
          call.last = t.text == "last_cache";
          bool ok = a < close && toks[a].kind == TokKind::kString;
          if (ok) call.table = toks[a].text;
          if (ok && after_a < close) {
            size_t b = Skip(toks, after_a + 1);
            ok = IsChar(sql, toks[after_a], ',') && b < close && toks[b].kind == TokKind::kString &&
                 Skip(toks, b + 1) == close;
            if (ok) call.name = toks[b].text;
          }
          if (!ok)
            return Status::InvalidArgument(t.text + "() takes the table name and optionally the cache name as string "
                                           "literals, e.g. " + t.text + "('cpu') or " + t.text + "('cpu', 'my_cache')");
          call.temp_name = kCachePrefix + std::to_string(out.cache_calls.size());
          replace(t.begin, toks[close].end, "temp.main." + QuoteIdent(call.temp_name));
          out.cache_calls.push_back(std::move(call));
          i = close;
          continue;
        }
        if (close < toks.size() && t.text == "tag_values") {
          // tag_values('table', 'tag') (Riffle; InfluxQL's SHOW TAG VALUES as a table function):
          // the tag's distinct values, as rows (key, value).
          size_t a = Skip(toks, open + 1);
          size_t comma = a < close ? Skip(toks, a + 1) : close;
          size_t b = comma < close ? Skip(toks, comma + 1) : close;
          if (!(a < close && toks[a].kind == TokKind::kString && comma < close && IsChar(sql, toks[comma], ',') &&
                b < close && toks[b].kind == TokKind::kString && Skip(toks, b + 1) == close))
            return Status::InvalidArgument(
                "tag_values() takes the table and the tag as string literals, e.g. tag_values('cpu', 'host')");
          const std::string& table = toks[a].text;
          const std::string& tag = toks[b].text;
          replace(t.begin, toks[close].end,
                  "(SELECT DISTINCT " + QuoteLiteral(tag) + " AS \"key\", " + QuoteIdent(tag) + " AS \"value\" FROM " +
                      QuoteIdent(table) + " WHERE " + QuoteIdent(tag) + " IS NOT NULL ORDER BY 2) AS tag_values");
          i = close;
          continue;
        }
        if (close < toks.size() && (t.text == "first_value" || t.text == "last_value")) {
          // DataFusion's ordered aggregate first_value(x ORDER BY t); the window function
          // (… OVER (…)) is DuckDB's too and stays.
          size_t after = Skip(toks, close + 1);
          if (!(after < toks.size() && toks[after].kind == TokKind::kWord && toks[after].text == "over")) {
            replace(t.begin, t.end, t.text == "first_value" ? "first" : "last");
            continue;
          }
        }
        if (close < toks.size() && t.text == "arrow_cast") {
          size_t comma = LastTopLevelComma(sql, toks, open, close);
          size_t type = comma < close ? Skip(toks, comma + 1) : close;
          if (type < close && toks[type].kind == TokKind::kString && Skip(toks, type + 1) == close) {
            auto duck = DuckTypeOfArrow(toks[type].text);
            if (!duck.ok()) return duck.status();
            replace(t.begin, toks[open].end, "CAST(");
            pending_tails[comma] = {close, *duck};
            i = open;
            continue;
          }
        }
      }
    }
    if (t.kind == TokKind::kParam) {
      // FROM $p / JOIN $p: a parameter naming a table becomes a quoted identifier.
      size_t prev = i;
      while (prev > 0 && toks[prev - 1].kind == TokKind::kSpace) --prev;
      if (prev > 0 && toks[prev - 1].kind == TokKind::kWord &&
          (toks[prev - 1].text == "from" || toks[prev - 1].text == "join")) {
        std::string value;
        if (table_param && table_param(t.text, &value)) {
          replace(t.begin, t.end, QuoteIdent(value));
          out.params_used_as_tables.insert(t.text);
        }
      }
      continue;
    }
    if (t.kind == TokKind::kWord && t.text == "now") {
      size_t next = Skip(toks, i + 1);
      bool qualified = i > 0 && toks[i - 1].kind == TokKind::kDot;
      if (!qualified && next < toks.size() && toks[next].kind == TokKind::kOther && sql[toks[next].begin] == '(') {
        replace(t.begin, t.end, "riffle_now");
        continue;
      }
    }
    if (!IsName(t)) continue;
    // Not the tail of a dotted chain that started earlier.
    if (i > 0 && toks[i - 1].kind == TokKind::kDot) continue;
    // Collect a dotted chain name(.name)*.
    std::vector<size_t> parts{i};
    size_t j = i;
    while (j + 2 < toks.size() && toks[j + 1].kind == TokKind::kDot && IsName(toks[j + 2])) {
      j += 2;
      parts.push_back(j);
    }
    auto part = [&](size_t k) { return NameOf(toks[parts[k]]); };
    size_t chain_end = toks[parts.back()].end;
    if (parts.size() >= 2 && part(0) == "information_schema" && parts.size() == 2) {
      if (part(1) == "tables") {
        out.needs_info_tables = true;
        replace(t.begin, chain_end, std::string("temp.main.") + kInfoTablesName);
      } else if (part(1) == "columns") {
        out.needs_info_columns = true;
        replace(t.begin, chain_end, std::string("temp.main.") + kInfoColumnsName);
      }
    } else if (parts.size() == 2 && part(0) == "system") {
      out.system_tables.insert(part(1));
      replace(t.begin, chain_end, "temp.main." + QuoteIdent(kSystemPrefix + part(1)));
    } else if (parts.size() == 3 && part(0) == "public" && part(1) == "iox") {
      replace(t.begin, chain_end, QuoteIdent(part(2)));
    } else if (parts.size() == 2 && part(0) == "iox") {
      replace(t.begin, chain_end, QuoteIdent(part(1)));
    }
    i = parts.back();
  }
  result.append(sql, copied, std::string::npos);
  out.sql = std::move(result);
  return out;
}

}  // namespace riffle::query
