#include "influxql/lexer.h"

#include <cctype>
#include <charconv>

#include "common/text.h"

namespace riffle::influxql {

bool Token::Is(TokenType t, std::string_view s) const {
  if (type != t) return false;
  return t == TokenType::kIdent ? AsciiLower(text) == AsciiLower(std::string(s)) : text == s;
}

bool Token::IsKeyword(std::string_view upper) const { return Is(TokenType::kIdent, upper); }

namespace {

bool IdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Nanoseconds per InfluxQL duration unit, 0 when `unit` is not one.
int64_t UnitNanos(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "u" || unit == "\xc2\xb5") return 1'000;
  if (unit == "ms") return 1'000'000;
  if (unit == "s") return 1'000'000'000;
  if (unit == "m") return 60'000'000'000;
  if (unit == "h") return 3'600'000'000'000;
  if (unit == "d") return 86'400'000'000'000;
  if (unit == "w") return 604'800'000'000'000;
  return 0;
}

Status Quoted(const std::string& text, size_t& i, char quote, std::string* out) {
  size_t start = i++;
  for (; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      // In a /regex/ only \/ is an escape of ours; \. \w \s … belong to the expression.
      if (quote == '/' && text[i + 1] != '/') out->push_back('\\');
      out->push_back(text[++i]);
    } else if (text[i] == quote) {
      ++i;
      return Status::Ok();
    } else {
      out->push_back(text[i]);
    }
  }
  return Status::InvalidArgument("error parsing query: unterminated " + std::string(1, quote) +
                                 " starting at " + std::to_string(start));
}

}  // namespace

Result<int64_t> ParseCount(std::string_view text, std::string_view what) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0)
    return Status::InvalidArgument("error parsing query: " + std::string(what) +
                                   " must be a whole number from 0 to " +
                                   std::to_string(INT64_MAX) + ", found " + std::string(text));
  return v;
}

Result<std::vector<Token>> Lex(const std::string& text, const BoundParams* params) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {  // comment to end of line
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (c == '$' && params && i + 1 < text.size() && IdentStart(text[i + 1])) {
      size_t start = ++i;
      while (i < text.size() && IdentChar(text[i])) ++i;
      std::string name = text.substr(start, i - start);
      auto it = params->find(name);
      if (it == params->end())
        return Status::InvalidArgument("error parsing query: missing parameter: " + name);
      // The value's own tokens: a quoted string, a number (maybe negative) or a boolean.
      RIFFLE_ASSIGN_OR_RETURN(std::vector<Token> bound, Lex(it->second));
      for (auto& b : bound)
        if (b.type != TokenType::kEnd) out.push_back(std::move(b));
      continue;
    }
    Token t{TokenType::kOp, ""};
    if (c == '"' || c == '\'') {
      t.type = c == '"' ? TokenType::kQuotedIdent : TokenType::kString;
      RIFFLE_RETURN_IF_ERROR(Quoted(text, i, c, &t.text));
    } else if (c == '/' && !out.empty() &&
               (out.back().Is(TokenType::kOp, "=~") || out.back().Is(TokenType::kOp, "!~"))) {
      t.type = TokenType::kRegex;
      RIFFLE_RETURN_IF_ERROR(Quoted(text, i, '/', &t.text));
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < text.size() &&
                std::isdigit(static_cast<unsigned char>(text[i + 1])))) {
      // A number, or a duration: 10s, 1h30m.
      size_t start = i;
      int64_t total = 0;
      bool duration = false;
      for (;;) {
        size_t num_start = i;
        while (i < text.size() &&
               (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
          ++i;
        if (!duration && i < text.size() && (text[i] == 'e' || text[i] == 'E') &&
            i + 1 < text.size() &&
            (std::isdigit(static_cast<unsigned char>(text[i + 1])) || text[i + 1] == '-' ||
             text[i + 1] == '+')) {
          i += 2;
          while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
          break;
        }
        size_t unit_start = i;
        while (i < text.size() && (std::isalpha(static_cast<unsigned char>(text[i])) ||
                                   text[i] == '\xc2' || text[i] == '\xb5'))
          ++i;
        int64_t scale = UnitNanos(std::string_view(text).substr(unit_start, i - unit_start));
        if (unit_start == i || scale == 0) {
          if (duration)
            return Status::InvalidArgument("error parsing query: invalid duration at " +
                                           std::to_string(start));
          i = unit_start;
          break;
        }
        duration = true;
        RIFFLE_ASSIGN_OR_RETURN(
            int64_t magnitude,
            ParseCount(std::string_view(text).substr(num_start, unit_start - num_start),
                       "a duration"));
        if (__builtin_mul_overflow(magnitude, scale, &magnitude) ||
            __builtin_add_overflow(total, magnitude, &total))
          return Status::InvalidArgument("error parsing query: duration out of range at " +
                                         std::to_string(start));
        if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) break;
      }
      if (i < text.size() && IdentChar(text[i]))
        return Status::InvalidArgument("error parsing query: invalid number or duration at " +
                                       std::to_string(start));
      t.type = duration ? TokenType::kDuration : TokenType::kNumber;
      t.text = text.substr(start, i - start);
      t.duration_ns = total;
    } else if (IdentStart(c)) {
      size_t start = i;
      while (i < text.size() && IdentChar(text[i])) ++i;
      t.type = TokenType::kIdent;
      t.text = text.substr(start, i - start);
    } else {
      static const char* kOps[] = {"=~", "!~", "!=", "<>", "<=", ">=", "::", "=", "<", ">",
                                   "+",  "-",  "*",  "/",  "%",  "(",  ")",  ",", ";", "."};
      bool found = false;
      for (const char* op : kOps) {
        size_t n = std::char_traits<char>::length(op);
        if (text.compare(i, n, op) == 0) {
          t.text = op;
          i += n;
          found = true;
          break;
        }
      }
      if (!found)
        return Status::InvalidArgument("error parsing query: unexpected '" + std::string(1, c) +
                                       "' at " + std::to_string(i));
    }
    out.push_back(std::move(t));
  }
  out.push_back(Token{TokenType::kEnd, ""});
  return out;
}

}  // namespace riffle::influxql
