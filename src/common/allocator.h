// The process's memory allocator. The server links jemalloc (CMakeLists.txt): under glibc's
// malloc every request body, parsed batch and WAL file came from pages the kernel had to fault
// in again (the ingest's largest buffers are freed a moment after they are filled), and on the
// 2-core VM that cost about a sixth of the ingest rate (bench/README.md, "jemalloc").
// Sanitized builds keep the sanitizer's allocator, the unit tests the C library's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace riffle::allocator {

struct Stats {
  std::string name;       // "jemalloc"
  int64_t allocated = 0;  // bytes the program holds
  int64_t active = 0;     // bytes of the pages those allocations occupy
  int64_t resident = 0;   // bytes of the allocator's pages in memory, its own included
  int64_t retained = 0;   // bytes unmapped from memory but kept as address space for reuse
};

// The allocator's own figures, or nothing when the process runs on the C library's malloc
// (whose figures are not worth a metric) or under a sanitizer.
std::optional<Stats> Current();

}  // namespace riffle::allocator
