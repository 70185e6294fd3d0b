#include "common/allocator.h"

#include <cstddef>

// jemalloc's control interface, declared weak: the symbol is there only when jemalloc is the
// process's allocator (linked into the server, or preloaded), so common/ builds without it.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace riffle::allocator {

std::optional<Stats> Current() {
  if (!mallctl) return std::nullopt;
  // The statistics are cached by jemalloc until the epoch advances.
  uint64_t epoch = 1;
  size_t epoch_size = sizeof epoch;
  if (mallctl("epoch", &epoch, &epoch_size, &epoch, epoch_size) != 0) return std::nullopt;
  Stats s;
  s.name = "jemalloc";
  auto read = [](const char* name, int64_t* into) {
    size_t value = 0, size = sizeof value;
    if (mallctl(name, &value, &size, nullptr, 0) != 0) return false;
    *into = static_cast<int64_t>(value);
    return true;
  };
  // A jemalloc built without statistics answers none of these: no figures then.
  if (!read("stats.allocated", &s.allocated) || !read("stats.active", &s.active) ||
      !read("stats.resident", &s.resident) || !read("stats.retained", &s.retained))
    return std::nullopt;
  return s;
}

}  // namespace riffle::allocator
