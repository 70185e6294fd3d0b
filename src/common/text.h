// ASCII text helpers shared by components (names, HTTP header keys).
#pragma once

#include <string>
#include <string_view>

namespace riffle {

inline std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace riffle
