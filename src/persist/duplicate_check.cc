// Persister::CheckDuplicateRanges: the duplicate ranges a restart flags, checked against the rows.
#include <algorithm>

#include "common/clock.h"
#include "common/log.h"
#include "persist/persister.h"

namespace riffle::persist {

bool Persister::CheckDuplicateRanges() {
  auto state = catalog_->State();
  // A snapshot due goes first (a check of many rows can take seconds); the rest waits for it.
  auto stop = [this] {
    std::lock_guard lock(thread_mu_);
    return stopping_ || snapshot_requested_;
  };
  for (const auto& [table_id, ranges] : buffer_->DuplicateTimeRanges()) {
    if (stop()) return false;
    int64_t started = NowNanos();
    auto forgotten = buffer_->ForgetUnrepeatedRanges(
        *state, table_id,
        [this](const std::vector<std::string>& keys) { return local_->Pin(keys); }, stop);
    const catalog::Table* table = nullptr;
    for (const auto& [name, db] : state->databases)
      if (!table) table = db->FindTableById(table_id);
    std::string name = table ? "table '" + table->name + "'" : "table " + std::to_string(table_id);
    std::string took = std::to_string((NowNanos() - started) / 1'000'000) + " ms";
    if (!forgotten.ok()) {
      log::Warn("checking the time ranges where " + name +
                " may hold repeated points failed (queries keep merging them): " +
                forgotten.status().message());
    } else {
      std::vector<buffer::TimeRange> remaining = buffer_->DuplicateTimeRanges()[table_id];
      size_t cleared = 0;
      for (const auto& r : ranges)
        cleared +=
            std::none_of(remaining.begin(), remaining.end(),
                         [&](const buffer::TimeRange& x) { return x.lo <= r.hi && r.lo <= x.hi; });
      log::Info("checked the " + std::to_string(ranges.size()) + " time ranges where " + name +
                " may hold repeated points in " + took + ": no point repeats in " +
                std::to_string(cleared) + " of them, which queries no longer merge; " +
                std::to_string(remaining.size()) + " remain");
    }
  }
  return !stop();
}

}  // namespace riffle::persist
