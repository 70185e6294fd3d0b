#include "common/log.h"

#include <cstdio>
#include <mutex>
#include <string>

#include "common/clock.h"

namespace riffle::log {

void Write(Level level, std::string_view message) {
  static std::mutex mu;
  static const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::string line = FormatTimestampNanos(NowNanos()) + "Z " + kNames[static_cast<int>(level)] +
                     " " + std::string(message) + "\n";
  std::lock_guard lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace riffle::log
