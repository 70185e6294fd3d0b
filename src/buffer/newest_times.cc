#include "buffer/newest_times.h"

#include <algorithm>

namespace riffle::buffer {

std::optional<NewestTimes::Bound> NewestTimes::Get(uint32_t table_id,
                                                   const std::string& keys) const {
  std::lock_guard lock(mu_);
  auto it = bounds_.find({table_id, keys});
  if (it == bounds_.end()) return std::nullopt;
  Bound b = it->second;
  auto g = generations_.find(table_id);
  b.generation = g == generations_.end() ? 0 : g->second;
  return b;
}

uint64_t NewestTimes::Generation(uint32_t table_id) const {
  std::lock_guard lock(mu_);
  auto g = generations_.find(table_id);
  return g == generations_.end() ? 0 : g->second;
}

void NewestTimes::Lower(uint32_t table_id, int64_t min_time) {
  std::lock_guard lock(mu_);
  for (auto& [id, p] : pending_)
    if (p.table_id == table_id) p.lowest_append = std::min(p.lowest_append, min_time);
  bool lowered = false;
  for (auto it = bounds_.lower_bound({table_id, std::string()});
       it != bounds_.end() && it->first.first == table_id; ++it) {
    if (min_time < it->second.time) {
      it->second.time = min_time;
      lowered = true;
    }
  }
  if (lowered) ++generations_[table_id];
}

void NewestTimes::Forget(uint32_t table_id) {
  std::lock_guard lock(mu_);
  for (auto& [id, p] : pending_)
    if (p.table_id == table_id) p.forgotten = true;
  auto it = bounds_.lower_bound({table_id, std::string()});
  while (it != bounds_.end() && it->first.first == table_id) it = bounds_.erase(it);
  ++generations_[table_id];
}

void NewestTimes::ForgetAll() {
  std::lock_guard lock(mu_);
  for (auto& [id, p] : pending_) p.forgotten = true;
  for (const auto& [key, bound] : bounds_) generations_.try_emplace(key.first, 0);
  bounds_.clear();
  for (auto& [table, generation] : generations_) ++generation;
}

NewestTimes::Finding NewestTimes::Begin(uint32_t table_id, const std::string& keys) {
  std::lock_guard lock(mu_);
  Finding f;
  f.id = next_id_++;
  pending_[f.id] = Pending{table_id, keys};
  if (auto it = bounds_.find({table_id, keys}); it != bounds_.end())
    f.narrowed_by = it->second.time;
  return f;
}

void NewestTimes::Finish(const Finding& finding, std::optional<int64_t> found, uint64_t publish) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(finding.id);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (p.forgotten || !found) return;
  std::pair<uint32_t, std::string> key{p.table_id, std::move(p.keys)};
  if (bounds_.size() >= kMaxBounds && !bounds_.count(key)) {
    // Dropping one loses nothing but the next query's narrowing: it is found again.
    auto oldest = std::min_element(
        bounds_.begin(), bounds_.end(),
        [](const auto& a, const auto& b) { return a.second.publish < b.second.publish; });
    bounds_.erase(oldest);
  }
  bounds_[std::move(key)] = Bound{std::min(*found, p.lowest_append), 0, publish};
}

}  // namespace riffle::buffer
