// buffer::NewestTimes: for a table and a set of key columns, a time B at or before which no key
// has its newest row: every key's newest row is at B or later. A query for the newest row of
// each key (query/last_point.h) then need only read the files and staged rows that reach B,
// where it otherwise reads every row of the table (TSBS's lastpoint: 10M rows for 100 rows).
//
// Why a bound and not each key's newest time: a bound stays true without knowing the keys.
// Appends only make a key's newest row newer, or bring a key whose rows are all appended ones,
// so lowering B to an append's oldest time keeps it true; rows only leave by retention (a key's
// older rows, or all of them) or by a row delete, which forgets the table's bounds. Appends in
// time order, the usual case, lower nothing.
//
// Readers never see rows whose append has not lowered B: the buffer calls Lower before it
// commits them. A query that used a bound checks afterwards that the table's generation did not
// move (Lower or Forget changed it meanwhile) and otherwise runs again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace riffle::buffer {

class NewestTimes {
 public:
  // Bounds kept at most (key sets and, for filtered statements, their conditions: a dashboard
  // may send a new list of hosts on every refresh); past it the one found longest ago goes.
  static constexpr size_t kMaxBounds = 1024;

  struct Bound {
    int64_t time;         // ns: no key's newest row is older
    uint64_t generation;  // the table's, when it was read
    uint64_t publish;     // Buffer::PublishCount when it was found (how fresh it is)
  };
  // The bound of table `table_id` for the key columns `keys` (lower-cased, in a set order).
  std::optional<Bound> Get(uint32_t table_id, const std::string& keys) const;
  uint64_t Generation(uint32_t table_id) const;
  // Rows of `table_id` as old as `min_time` are about to become readable.
  void Lower(uint32_t table_id, int64_t min_time);
  // Rows of `table_id` were removed: its bounds are no longer known.
  void Forget(uint32_t table_id);
  void ForgetAll();

  // Finding a bound: Begin before the rows are read (it returns the bound the reading may rely
  // on, if any), Finish with what the rows gave (nothing for no rows). Rows appended meanwhile
  // lower what is kept; a Forget meanwhile discards it.
  struct Finding {
    uint64_t id = 0;
    std::optional<int64_t> narrowed_by;  // the rows may be read from this time on
  };
  Finding Begin(uint32_t table_id, const std::string& keys);
  void Finish(const Finding& finding, std::optional<int64_t> found, uint64_t publish);

 private:
  struct Pending {
    uint32_t table_id;
    std::string keys;
    int64_t lowest_append = INT64_MAX;
    bool forgotten = false;
  };
  mutable std::mutex mu_;
  std::map<std::pair<uint32_t, std::string>, Bound> bounds_;
  std::map<uint32_t, uint64_t> generations_;  // by table; absent: 0
  std::map<uint64_t, Pending> pending_;       // by Finding::id
  uint64_t next_id_ = 1;
};

}  // namespace riffle::buffer
