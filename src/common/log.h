// Minimal leveled logging to stderr; one line per call, safe across threads.
#pragma once

#include <string_view>

namespace riffle::log {

enum class Level { kDebug, kInfo, kWarn, kError };
void Write(Level level, std::string_view message);
inline void Info(std::string_view m) { Write(Level::kInfo, m); }
inline void Warn(std::string_view m) { Write(Level::kWarn, m); }
inline void Error(std::string_view m) { Write(Level::kError, m); }

}  // namespace riffle::log
