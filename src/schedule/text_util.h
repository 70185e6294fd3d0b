// Small string helpers shared by the schedule parsers (not part of the public API).
#pragma once

#include <string_view>

namespace riffle::schedule::internal {

inline bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

inline bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

inline std::string_view TrimWhitespace(std::string_view text) {
  while (!text.empty() && IsAsciiSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsAsciiSpace(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace riffle::schedule::internal
