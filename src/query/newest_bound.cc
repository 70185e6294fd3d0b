#include "query/newest_bound.h"

#include <algorithm>
#include <set>

#include "common/fault.h"
#include "common/text.h"

namespace riffle::query {
namespace {

// The reads of `newest.table` in `*ranges`: from `from` (none: no bound, the whole table) within
// the statement's own range.
void SetRange(const NewestBound& newest, std::optional<int64_t> from,
              std::map<uint32_t, buffer::TimeRange>* ranges) {
  const uint32_t id = newest.table->id;
  if (!from) {
    if (newest.statement_range)
      (*ranges)[id] = *newest.statement_range;
    else
      ranges->erase(id);
    return;
  }
  buffer::TimeRange range{*from, INT64_MAX};
  if (newest.statement_range) {
    range.lo = std::max(range.lo, newest.statement_range->lo);
    range.hi = newest.statement_range->hi;
  }
  (*ranges)[id] = range;
}

}  // namespace

NewestBound NewestBoundFor(buffer::Buffer& buffer, const catalog::Database& db,
                           const LastPointShape* shape,
                           std::map<uint32_t, buffer::TimeRange>* ranges) {
  NewestBound out;
  if (!shape || shape->filtered) return out;
  for (const auto& [name, t] : db.tables)
    if (AsciiLower(name) == shape->table) out.table = t.get();
  if (!out.table) return out;
  // Keys and conditions of tags only: a repeated point may change its fields (the later write's
  // values win), which could take a key's newest row away or out of the conditions; its tags
  // and time are the point's own.
  std::set<std::string> tags;
  for (const auto& c : out.table->columns)
    if (c.type == catalog::ColumnType::kTag) tags.insert(AsciiLower(c.name));
  for (const auto& k : shape->keys)
    if (!tags.count(k)) return NewestBound{};
  for (const auto& c : shape->filter_columns)
    if (!tags.count(c)) return NewestBound{};
  for (const auto& k : shape->keys) out.key += k + '\0';
  if (!shape->filter.empty()) out.key += '\1' + shape->filter;
  out.finding_sql = shape->finding_sql;
  if (auto it = ranges->find(out.table->id); it != ranges->end()) out.statement_range = it->second;
  auto bound = buffer.newest_times().Get(out.table->id, out.key);
  SetRange(out, bound ? std::optional<int64_t>(bound->time) : std::nullopt, ranges);
  return out;
}

Status NarrowToNewest(buffer::Buffer& buffer, duck::Connection& conn, NewestBound* newest,
                      std::map<uint32_t, buffer::TimeRange>* ranges, const SetNarrowing& narrow) {
  buffer::NewestTimes& times = buffer.newest_times();
  const uint32_t id = newest->table->id;
  newest->bound = times.Get(id, newest->key);
  const uint64_t publish = buffer.PublishCount();
  if (!newest->bound || newest->bound->publish != publish) {
    auto finding = times.Begin(id, newest->key);
    if (finding.narrowed_by)
      (*ranges)[id] = buffer::TimeRange{*finding.narrowed_by, INT64_MAX};
    else
      ranges->erase(id);
    std::optional<int64_t> found;
    Status st = narrow(*ranges);
    if (st.ok()) {
      // No row: nothing found (an empty table, or no row the conditions keep, has no bound).
      auto rows = conn.QueryInt64s(newest->finding_sql);
      if (rows.ok() && !rows->empty() && (*rows)[0].size() == 2 && (*rows)[0][0] > 0)
        found = (*rows)[0][1];
    }
    times.Finish(finding, found, publish);
    if (!st.ok()) return st;
    newest->bound = times.Get(id, newest->key);
  }
  SetRange(*newest, newest->bound ? std::optional<int64_t>(newest->bound->time) : std::nullopt,
           ranges);
  return narrow(*ranges);
}

bool NewestBoundMoved(buffer::Buffer& buffer, const NewestBound& newest) {
  if (!newest.bound) return false;
  // Tests: RIFFLE_FAULT=newest_bound_moves lowers the bound (by 1 ns) while every narrowed run
  // binds, as an append of older rows committed meanwhile would.
  if (fault::Injected("newest_bound_moves") && newest.bound->time > INT64_MIN)
    buffer.newest_times().Lower(newest.table->id, newest.bound->time - 1);
  return buffer.newest_times().Generation(newest.table->id) != newest.bound->generation;
}

}  // namespace riffle::query
