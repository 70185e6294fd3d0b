// query::NewestBound: a last-point statement over a whole table (query/last_point.h without a
// WHERE clause, or one of lower bounds on time and conditions on tags) reads only the Parquet files
// and staged rows that reach every key's newest time, the bound buffer::NewestTimes keeps. The
// engine calls these around its run of the statement.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "buffer/buffer.h"
#include "catalog/catalog.h"
#include "common/status.h"
#include "duck/connection.h"
#include "query/last_point.h"

namespace riffle::query {

struct NewestBound {
  const catalog::Table* table = nullptr;            // none: the statement is not of that kind
  std::string key;          // NewestTimes' name for the keys and the statement's conditions
  std::string finding_sql;  // finds the bound (LastPointShape's)
  std::optional<buffer::NewestTimes::Bound> bound;  // the one the run relies on
  // The range the statement's own WHERE reads (lower bounds on time), kept in what the bound
  // narrows: a key whose newest row is older is not in the answer.
  std::optional<buffer::TimeRange> statement_range;
};

// What a statement of `shape` (none: not a last-point statement) reads of `db`, and in
// `*ranges` the time range whose files a remote store should pin: those the bound known now
// reaches (should the one NarrowToNewest relies on be lower, a file is missing and the engine's
// retry pins every file).
NewestBound NewestBoundFor(buffer::Buffer& buffer, const catalog::Database& db,
                           const LastPointShape* shape,
                           std::map<uint32_t, buffer::TimeRange>* ranges);

// Sets the file lists and staged ranges of `conn` to `ranges` (the engine's, which remembers
// what each connection was narrowed to).
using SetNarrowing = std::function<Status(const std::map<uint32_t, buffer::TimeRange>&)>;

// Under the views lock, the file lists set: narrows `newest->table`'s reads on `conn` to its
// bound, found first (from the rows the last bound reaches) when none is known or files were
// published since. Without a bound the table is read whole.
Status NarrowToNewest(buffer::Buffer& buffer, duck::Connection& conn, NewestBound* newest,
                      std::map<uint32_t, buffer::TimeRange>* ranges, const SetNarrowing& narrow);

// Whether the bound the run relied on was lowered or forgotten since it was read: rows older
// than it may have become readable, so the run must be repeated over every row.
bool NewestBoundMoved(buffer::Buffer& buffer, const NewestBound& newest);

}  // namespace riffle::query
