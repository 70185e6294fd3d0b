#include "influxql/expression.h"

#include <set>

#include "common/text.h"
#include "query/sql_compat.h"

namespace riffle::influxql {

using query::QuoteIdent;
using query::QuoteLiteral;

Status ParseError(const std::string& what) {
  return Status::InvalidArgument("error parsing query: " + what);
}

bool IsName(const Token& t) {
  return t.type == TokenType::kIdent || t.type == TokenType::kQuotedIdent;
}

// Index of the ')' matching the '(' at `open`, or `end` when unbalanced.
size_t MatchingParen(const std::vector<Token>& tokens, size_t open, size_t end) {
  int depth = 0;
  for (size_t i = open; i < end; ++i) {
    if (tokens[i].Is(TokenType::kOp, "(")) ++depth;
    if (tokens[i].Is(TokenType::kOp, ")") && --depth == 0) return i;
  }
  return end;
}

// Top-level (paren depth 0) positions of `,` between begin and end.
std::vector<std::pair<size_t, size_t>> SplitCommas(const std::vector<Token>& tokens, size_t begin,
                                                   size_t end) {
  std::vector<std::pair<size_t, size_t>> parts;
  int depth = 0;
  size_t start = begin;
  for (size_t i = begin; i < end; ++i) {
    if (tokens[i].Is(TokenType::kOp, "(")) ++depth;
    if (tokens[i].Is(TokenType::kOp, ")")) --depth;
    if (depth == 0 && tokens[i].Is(TokenType::kOp, ",")) {
      parts.emplace_back(start, i);
      start = i + 1;
    }
  }
  parts.emplace_back(start, end);
  return parts;
}

std::string IntervalSql(int64_t ns) {
  return "INTERVAL '" + std::to_string(ns / 1000) + " microseconds'";
}

bool IsComparison(const Token& t) {
  if (t.type != TokenType::kOp) return false;
  return t.text == "=" || t.text == "!=" || t.text == "<>" || t.text == "<" || t.text == "<=" ||
         t.text == ">" || t.text == ">=";
}

Result<Source> ParseSource(const std::vector<Token>& tokens, size_t* pos) {
  std::vector<std::string> parts;
  size_t i = *pos;
  if (tokens[i].type == TokenType::kRegex || tokens[i].Is(TokenType::kOp, "/"))
    return Status::Unimplemented(
        "InfluxQL: measurement regular expressions in FROM are not supported");
  for (;;) {
    if (IsName(tokens[i])) {
      parts.push_back(tokens[i++].text);
    } else {
      parts.emplace_back();  // db..m
    }
    if (!tokens[i].Is(TokenType::kOp, ".")) break;
    ++i;
  }
  if (parts.empty() || parts.back().empty() || parts.size() > 3)
    return ParseError("expected a measurement name");
  *pos = i;
  Source s;
  s.measurement = parts.back();
  if (parts.size() == 3) s.db = parts[0];
  return s;
}

namespace {

// Recursive descent over InfluxQL's condition grammar: the translation above maps tokens one
// by one, so a statement that does not parse must be refused here, before any SQL exists.
class ConditionCheck {
 public:
  ConditionCheck(const std::vector<Token>& tokens, size_t begin, size_t end)
      : t_(tokens), i_(begin), end_(end) {}

  Status Run() {
    RIFFLE_RETURN_IF_ERROR(Or());
    if (!AtEnd()) return Found("an operator, AND, OR or the end of the condition");
    return Status::Ok();
  }

 private:
  bool AtEnd() const { return i_ >= end_ || t_[i_].type == TokenType::kEnd; }
  bool Op(std::string_view op) const { return !AtEnd() && t_[i_].Is(TokenType::kOp, op); }
  bool Keyword(std::string_view kw) const { return !AtEnd() && t_[i_].IsKeyword(kw); }
  Status Found(const std::string& expected) const {
    std::string found = AtEnd() ? "EOF" : t_[i_].text;
    return ParseError("found " + found + ", expected " + expected);
  }

  Status Or() {
    RIFFLE_RETURN_IF_ERROR(And());
    while (Keyword("OR")) {
      ++i_;
      RIFFLE_RETURN_IF_ERROR(And());
    }
    return Status::Ok();
  }
  Status And() {
    RIFFLE_RETURN_IF_ERROR(Unary());
    while (Keyword("AND")) {
      ++i_;
      RIFFLE_RETURN_IF_ERROR(Unary());
    }
    return Status::Ok();
  }
  Status Unary() {
    if (Keyword("NOT")) {
      ++i_;
      return Unary();
    }
    RIFFLE_RETURN_IF_ERROR(Additive());
    if (Keyword("IS")) {
      ++i_;
      if (Keyword("NOT")) ++i_;
      if (!Keyword("NULL")) return Found("NULL");
      ++i_;
      return Status::Ok();
    }
    if (Op("=~") || Op("!~")) {
      ++i_;
      if (AtEnd() || t_[i_].type != TokenType::kRegex) return Found("a regular expression");
      ++i_;
      return Status::Ok();
    }
    for (std::string_view op : {"=", "!=", "<>", "<", "<=", ">", ">="})
      if (Op(op)) {
        ++i_;
        return Additive();
      }
    return Status::Ok();
  }
  Status Additive() {
    RIFFLE_RETURN_IF_ERROR(Term());
    while (Op("+") || Op("-") || Op("*") || Op("/") || Op("%")) {
      ++i_;
      RIFFLE_RETURN_IF_ERROR(Term());
    }
    return Status::Ok();
  }
  Status Term() {
    const char* kOperand = "identifier, string, number, bool";
    if (AtEnd()) return Found(kOperand);
    const Token& tok = t_[i_];
    if (Op("(")) {
      ++i_;
      RIFFLE_RETURN_IF_ERROR(Or());
      if (!Op(")")) return Found(")");
      ++i_;
      return Status::Ok();
    }
    if (Op("-") || Op("+")) {
      ++i_;
      return Term();
    }
    if (Op("*")) {  // count(*)
      ++i_;
      return Status::Ok();
    }
    switch (tok.type) {
      case TokenType::kIdent:
        if (tok.IsKeyword("AND") || tok.IsKeyword("OR")) return Found(kOperand);
        [[fallthrough]];
      case TokenType::kQuotedIdent:
        ++i_;
        if (Op("(")) {
          ++i_;
          if (!Op(")")) {
            RIFFLE_RETURN_IF_ERROR(Or());
            while (Op(",")) {
              ++i_;
              RIFFLE_RETURN_IF_ERROR(Or());
            }
          }
          if (!Op(")")) return Found(")");
          ++i_;
        }
        if (Op("::")) {
          ++i_;
          if (AtEnd() || t_[i_].type != TokenType::kIdent)
            return Found("a type (field, tag, float, integer, string)");
          ++i_;
        }
        return Status::Ok();
      case TokenType::kString:
      case TokenType::kNumber:
      case TokenType::kDuration:
        ++i_;
        return Status::Ok();
      default:
        return Found(kOperand);
    }
  }

  const std::vector<Token>& t_;
  size_t i_, end_;
};

}  // namespace

Status CheckCondition(const std::vector<Token>& tokens, size_t begin, size_t end) {
  return ConditionCheck(tokens, begin, end).Run();
}

Result<std::string> TranslateExpression(const std::vector<Token>& tokens, size_t begin, size_t end,
                                        const std::set<std::string>* columns) {
  // A name the measurement does not have reads as null, as a missing field does in InfluxQL.
  auto name = [&](const std::string& n) {
    return columns && n != "time" && !columns->count(n) ? std::string("NULL") : QuoteIdent(n);
  };
  std::vector<std::string> out;
  for (size_t i = begin; i < end; ++i) {
    const Token& t = tokens[i];
    // A comparison of `time` with a number or duration is an absolute time in nanoseconds.
    bool time_bound = i >= begin + 2 && IsComparison(tokens[i - 1]) &&
                      tokens[i - 2].type != TokenType::kString &&
                      AsciiLower(tokens[i - 2].text) == "time";
    switch (t.type) {
      case TokenType::kIdent: {
        std::string lower = AsciiLower(t.text);
        bool call = i + 1 < end && tokens[i + 1].Is(TokenType::kOp, "(");
        if (lower == "and" || lower == "or" || lower == "not" || lower == "true" ||
            lower == "false" || lower == "null" || lower == "is")
          out.push_back(lower);
        else if (call)
          out.push_back(lower == "mean" ? "avg" : lower);
        else
          out.push_back(name(lower == "time" ? "time" : t.text));
        break;
      }
      case TokenType::kQuotedIdent:
        out.push_back(name(t.text));
        break;
      case TokenType::kString:
        out.push_back(QuoteLiteral(t.text));
        break;
      case TokenType::kNumber:
        if (time_bound && t.text.find_first_of(".eE") == std::string::npos)
          out.push_back("make_timestamp_ns(" + t.text + ")");
        else
          out.push_back(t.text);
        break;
      case TokenType::kDuration:
        out.push_back(time_bound ? "make_timestamp_ns(" + std::to_string(t.duration_ns) + ")"
                                 : IntervalSql(t.duration_ns));
        break;
      case TokenType::kRegex:
        return ParseError("a regular expression must follow =~ or !~");
      case TokenType::kOp:
        if ((t.text == "=~" || t.text == "!~") && i + 1 < end &&
            tokens[i + 1].type == TokenType::kRegex) {
          if (out.empty()) return ParseError("=~ needs a left-hand side");
          std::string lhs = out.back();
          out.back() = std::string(t.text == "!~" ? "NOT " : "") + "regexp_matches(" + lhs + ", " +
                       QuoteLiteral(tokens[i + 1].text) + ")";
          ++i;
        } else if (t.text == "::") {
          ++i;  // field::float, tag::tag: the type hint changes nothing here
        } else if (t.text == ";" || t.text == ".") {
          return ParseError("unexpected '" + t.text + "'");
        } else {
          out.push_back(t.text == "!=" ? "<>" : t.text);
        }
        break;
      case TokenType::kEnd:
        break;
    }
  }
  std::string sql;
  for (const auto& piece : out) {
    if (!sql.empty() && piece != ")" && piece != "," && piece != "(" && sql.back() != '(')
      sql += ' ';
    sql += piece;
  }
  return sql;
}

// The time range a WHERE clause (tokens [begin, end)) bounds: conditions on `time` joined by
// AND at the top level. Unusable with OR at the top level.
Result<TimeBounds> WhereTimeBounds(const std::vector<Token>& tokens, size_t begin, size_t end) {
  TimeBounds bounds;
  int depth = 0;
  size_t start = begin;
  auto conjunct = [&](size_t b, size_t e) -> Status {
    if (e < b + 3 || !tokens[b].IsKeyword("time") || !IsComparison(tokens[b + 1]))
      return Status::Ok();
    std::string op = tokens[b + 1].text;
    std::string value;
    if (e == b + 3 && tokens[b + 2].type == TokenType::kNumber)
      value = "make_timestamp_ns(" + tokens[b + 2].text + ")";
    else if (e == b + 3 && tokens[b + 2].type == TokenType::kDuration)
      value = "make_timestamp_ns(" + std::to_string(tokens[b + 2].duration_ns) + ")";
    else {
      RIFFLE_ASSIGN_OR_RETURN(value, TranslateExpression(tokens, b + 2, e));
    }
    if (op == ">" || op == ">=") bounds.lo = value;
    if (op == "<" || op == "<=") bounds.hi = value, bounds.hi_inclusive = op == "<=";
    if (op == "=") bounds.lo = bounds.hi = value, bounds.hi_inclusive = true;
    return Status::Ok();
  };
  for (size_t i = begin; i < end; ++i) {
    if (tokens[i].Is(TokenType::kOp, "(")) ++depth;
    if (tokens[i].Is(TokenType::kOp, ")")) --depth;
    if (depth != 0) continue;
    if (tokens[i].IsKeyword("OR")) {
      bounds.usable = false;
      return bounds;
    }
    if (tokens[i].IsKeyword("AND")) {
      RIFFLE_RETURN_IF_ERROR(conjunct(start, i));
      start = i + 1;
    }
  }
  if (begin < end) RIFFLE_RETURN_IF_ERROR(conjunct(start, end));
  return bounds;
}

}  // namespace riffle::influxql
