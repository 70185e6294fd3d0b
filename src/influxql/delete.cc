// InfluxQL's DELETE statement, parsed into what the server's row deleter takes.
#include "influxql/expression.h"
#include "influxql/influxql.h"
#include "influxql/lexer.h"

namespace riffle::influxql {

Result<std::optional<DeleteStatement>> ParseDelete(
    const std::string& statement, const std::map<std::string, std::string>* params) {
  RIFFLE_ASSIGN_OR_RETURN(std::vector<Token> t, Lex(statement, params));
  if (t.empty() || !t[0].IsKeyword("DELETE")) return std::optional<DeleteStatement>();
  DeleteStatement out;
  size_t pos = 1;
  if (pos < t.size() && t[pos].IsKeyword("FROM")) {
    ++pos;
    if (pos < t.size() && t[pos].type == TokenType::kRegex)
      return ParseError("DELETE FROM a regular expression is not supported; name one measurement");
    RIFFLE_ASSIGN_OR_RETURN(Source source, ParseSource(t, &pos));
    out.measurement = source.measurement;
  }
  size_t end = t.size();
  while (end > pos && t[end - 1].type == TokenType::kEnd) --end;
  if (pos < end) {
    if (!t[pos].IsKeyword("WHERE"))
      return ParseError("expected WHERE, found '" + t[pos].text + "'");
    ++pos;
    if (pos >= end) return ParseError("expected conditions after WHERE");
    size_t where_at = statement.size();
    for (size_t i = 0; i + 5 <= statement.size(); ++i)
      if ((statement[i] == 'W' || statement[i] == 'w') &&
          std::equal(
              statement.begin() + static_cast<std::ptrdiff_t>(i),
              statement.begin() + static_cast<std::ptrdiff_t>(i + 5), "WHERE",
              [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; })) {
        where_at = i + 5;
        break;
      }
    out.where_text = statement.substr(std::min(where_at, statement.size()));
    out.where_text.erase(0, out.where_text.find_first_not_of(' '));
    // Conditions joined by AND at the top level, without parentheses.
    size_t start = pos;
    for (size_t i = pos; i <= end; ++i) {
      if (i < end && !t[i].IsKeyword("AND")) {
        if (t[i].IsKeyword("OR"))
          return ParseError("DELETE supports conditions joined by AND only, found OR");
        if (t[i].Is(TokenType::kOp, "("))
          return ParseError("DELETE conditions cannot be grouped in parentheses");
        continue;
      }
      if (i == start) return ParseError("expected a condition around AND");
      if (t[start].IsKeyword("time")) {
        if (i < start + 3 || !IsComparison(t[start + 1]) || t[start + 1].text == "!=" ||
            t[start + 1].text == "<>")
          return ParseError("expected time <, <=, =, >= or > a time");
        std::string value;
        if (i == start + 3 && t[start + 2].type == TokenType::kNumber) {
          value = "make_timestamp_ns(" + t[start + 2].text + ")";
        } else {
          RIFFLE_ASSIGN_OR_RETURN(value, TranslateExpression(t, start + 2, i));
        }
        out.time_conditions.emplace_back(t[start + 1].text, value);
      } else {
        if (i != start + 3 || !IsName(t[start]) || !t[start + 1].Is(TokenType::kOp, "=") ||
            t[start + 2].type != TokenType::kString)
          return ParseError(
              "DELETE conditions are tag = 'value' or time comparisons, joined by AND (fields "
              "and other operators cannot select rows to delete)");
        out.tags.emplace_back(t[start].text, t[start + 2].text);
      }
      start = i + 1;
    }
  }
  if (out.measurement.empty() && out.tags.empty() && out.time_conditions.empty())
    return ParseError("DELETE needs FROM <measurement> or WHERE <conditions>");
  return std::optional<DeleteStatement>(std::move(out));
}

}  // namespace riffle::influxql
