// Tokens of InfluxQL (internal to the influxql component).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace riffle::influxql {

enum class TokenType { kIdent, kQuotedIdent, kString, kNumber, kDuration, kRegex, kOp, kEnd };

struct Token {
  TokenType type;
  std::string text;         // identifier/string/regex contents unescaped; operator spelled
  int64_t duration_ns = 0;  // kDuration
  bool Is(TokenType t, std::string_view s) const;  // case-insensitive for identifiers
  bool IsKeyword(std::string_view upper) const;    // a bare identifier equal to it (any case)
};

// Bound parameters of a request (InfluxDB 1.x `params`): $name → the InfluxQL literal it stands
// for ('text', 1.5, true), lexed in its place.
using BoundParams = std::map<std::string, std::string>;

// `params` null: a `$` is an error like any unexpected character.
Result<std::vector<Token>> Lex(const std::string& text, const BoundParams* params = nullptr);

// A non-negative whole number that fits int64 (LIMIT, OFFSET, duration magnitudes).
Result<int64_t> ParseCount(std::string_view text, std::string_view what);

}  // namespace riffle::influxql
