// libFuzzer target: the row-delete predicate and time parsers never crash, and what they accept
// is well formed: every tag has a name, and a number is read as itself.
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rowdelete/predicate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string measurement;
  for (std::string* m : {static_cast<std::string*>(nullptr), &measurement}) {
    auto tags = riffle::rowdelete::ParsePredicate(input, m);
    if (!tags.ok()) {
      if (tags.status().message().empty()) std::abort();
      continue;
    }
    for (const auto& [tag, value] : *tags)
      if (tag.empty() || tag == "_measurement") std::abort();
  }
  auto t = riffle::rowdelete::ParseTime(input);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(input.data(), input.data() + input.size(), n);
  if (ec == std::errc() && end == input.data() + input.size() && (!t.ok() || *t != n)) std::abort();
  return 0;
}
