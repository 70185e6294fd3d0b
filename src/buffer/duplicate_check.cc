// Checking a table's duplicate ranges against its rows (Buffer::ForgetUnrepeatedRanges).
#include <memory>

#include "buffer/buffer.h"
#include "duck/duck.h"

namespace riffle::buffer {

using duck::QuoteIdent;

namespace {

// SQL: 1 if some point (tags and time) of `rows` occurs more than once, else 0. The tags are
// grouped by their hash: a collision can only keep a range flagged, never forget a repeat.
std::string RepeatExistsSql(const catalog::Table& table, const std::string& rows) {
  std::string tags;
  for (const auto& c : table.columns)
    if (c.type == catalog::ColumnType::kTag)
      tags += (tags.empty() ? "" : ", ") + QuoteIdent(c.name);
  std::string key = tags.empty() ? std::string("\"time\"") : "hash(" + tags + "), \"time\"";
  return "SELECT count(*) FROM (SELECT 1 FROM (" + rows + ") GROUP BY " + key +
         " HAVING count(*) > 1 LIMIT 1)";
}

}  // namespace

Result<std::vector<TimeRange>> Buffer::ForgetUnrepeatedRanges(
    const catalog::CatalogState& given, uint32_t table_id,
    const std::function<Result<std::shared_ptr<void>>(const std::vector<std::string>&)>& pin,
    const std::function<bool()>& stop) {
  auto opened = duck::Connection::Open(*db_);
  if (!opened.ok()) return opened.status();
  duck::Connection& conn = *opened;
  ScanGuard scanning(this);
  std::shared_ptr<const catalog::CatalogState> state;
  const catalog::Table* table = nullptr;
  std::vector<TimeRange> ranges;
  std::vector<PersistedFile> files;
  std::string live, frozen;
  {
    std::lock_guard lock(mu_);
    NewestLocked(given);
    state = newest_;
    auto known = tables_.find(table_id);
    auto dup = duplicates_.find(table_id);
    if (known == tables_.end() || dup == duplicates_.end() || dup->second.ranges().empty())
      return std::vector<TimeRange>();
    table = state->FindTableById(known->second.db_id, table_id);
    if (!table) return std::vector<TimeRange>();
    ranges = dup->second.ranges().ranges();
    std::string schema = SchemaRef(DataSchema(known->second.db_id)) + ".";
    live = schema + QuoteIdent(DataTable(table_id));
    if (frozen_.count(table_id)) frozen = schema + QuoteIdent(FrozenTable(table_id));
    auto listed = parquet_files_.find(table_id);
    if (listed != parquet_files_.end()) files = listed->second;
    // The transaction reads the buffer as it is now, while no append or freeze runs: the
    // tables named above hold every buffered row of the table throughout the check.
    Status st = conn.Exec("BEGIN TRANSACTION");
    if (st.ok())
      st = conn.QueryInt64s("SELECT count(*) FROM " + live + (frozen.empty() ? "" : ", " + frozen))
               .status();
    if (!st.ok()) return st;
    dup->second.BeginCheck();
  }
  std::vector<TimeRange> unrepeated;
  Status checked = Status::Ok();
  std::shared_ptr<void> pinned;
  for (const auto& r : ranges) {
    if (stop()) break;
    std::string in = InRangesSql({r});
    std::string rows =
        EmptyRowsSql(*table) + " UNION ALL BY NAME SELECT * FROM " + live + " WHERE " + in;
    if (!frozen.empty()) rows += " UNION ALL BY NAME SELECT * FROM " + frozen + " WHERE " + in;
    std::vector<std::string> paths, keys;
    for (const auto& f : files)
      if (f.min_time <= r.hi && r.lo <= f.max_time) {
        paths.push_back(f.path);
        keys.push_back(f.key.empty() ? f.path : f.key);
      }
    if (!paths.empty()) {
      auto pinned_now = pin(keys);
      if (!pinned_now.ok()) {
        checked = pinned_now.status();
        break;
      }
      pinned = std::move(pinned_now).value();
      rows += " UNION ALL BY NAME SELECT * FROM (" + ReadParquetSql(PathListSql(paths)) +
              ") WHERE " + in;
    }
    auto repeats = conn.QueryInt64s(RepeatExistsSql(*table, rows));
    if (!repeats.ok()) {
      checked = repeats.status();
      break;
    }
    if ((*repeats)[0][0] == 0) unrepeated.push_back(r);
  }
  (void)conn.Exec("COMMIT");
  std::lock_guard lock(mu_);
  auto dup = duplicates_.find(table_id);
  if (dup == duplicates_.end())
    return checked.ok() ? unrepeated : Result<std::vector<TimeRange>>(checked);
  if (!checked.ok()) unrepeated.clear();
  if (dup->second.EndCheck(unrepeated)) {
    const catalog::CatalogState& now = NewestLocked(*state);
    auto known = tables_.find(table_id);
    const catalog::Table* t =
        known == tables_.end() ? nullptr : now.FindTableById(known->second.db_id, table_id);
    const catalog::Database* db = t ? now.FindDatabaseById(known->second.db_id) : nullptr;
    if (db) RIFFLE_RETURN_IF_ERROR(SyncTable(*db, *t));  // the view without the forgotten spans
  }
  if (!checked.ok()) return checked;
  return unrepeated;
}

}  // namespace riffle::buffer
