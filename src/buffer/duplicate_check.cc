// Checking a table's duplicate ranges against its rows (Buffer::ForgetUnrepeatedRanges).
#include <algorithm>
#include <memory>

#include "buffer/buffer.h"
#include "duck/duck.h"

namespace riffle::buffer {

using duck::QuoteIdent;

namespace {

// Rows one query checks at most (as estimated), so that its aggregate stays small.
constexpr int64_t kRowsPerPiece = int64_t{1} << 20;

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

std::vector<TimeRange> CheckPieces(const TimeRange& r, int64_t buffered,
                                   const std::vector<PersistedFile>& files,
                                   int64_t rows_per_piece) {
  double rows = static_cast<double>(buffered);
  for (const auto& f : files) {
    int64_t lo = std::max(f.min_time, r.lo), hi = std::min(f.max_time, r.hi);
    if (lo > hi) continue;
    double span = static_cast<double>(f.max_time) - static_cast<double>(f.min_time) + 1;
    rows += static_cast<double>(f.rows) * (static_cast<double>(hi) - static_cast<double>(lo) + 1) /
            span;
  }
  double width = static_cast<double>(r.hi) - static_cast<double>(r.lo) + 1;
  int64_t count =
      static_cast<int64_t>(std::min(rows / static_cast<double>(rows_per_piece) + 1, width));
  std::vector<TimeRange> out;
  int64_t step = static_cast<int64_t>(width / static_cast<double>(count));
  for (int64_t lo = r.lo, i = 0; i < count; ++i) {
    int64_t hi = i + 1 == count ? r.hi : lo + step - 1;
    out.push_back({lo, hi});
    lo = hi + 1;
  }
  return out;
}

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
  uint32_t db_id = 0;
  std::vector<TimeRange> ranges;
  std::vector<PersistedFile> files;
  {
    std::lock_guard lock(mu_);
    NewestLocked(given);
    state = newest_;
    auto known = tables_.find(table_id);
    auto dup = duplicates_.find(table_id);
    if (known == tables_.end() || dup == duplicates_.end() || dup->second.ranges().empty())
      return std::vector<TimeRange>();
    db_id = known->second.db_id;
    table = state->FindTableById(db_id, table_id);
    if (!table) return std::vector<TimeRange>();
    ranges = dup->second.ranges().ranges();
    // The caller keeps publishes out: the files stay these throughout.
    auto listed = parquet_files_.find(table_id);
    if (listed != parquet_files_.end()) files = listed->second;
    dup->second.BeginCheck();
  }
  // Each piece in a transaction of its own, begun while no append or freeze runs: the tables it
  // names then hold every buffered row of the table until it ends. Returns the rows buffered.
  std::vector<std::shared_ptr<duck::StagedRows>> staged;  // alive while the piece reads them
  auto begin = [&](std::string* live, std::string* frozen) -> Result<int64_t> {
    std::lock_guard lock(mu_);
    *live = RowsSql(db_id, table_id, LiveCatalogOf(table_id));
    *frozen = frozen_.count(table_id) ? RowsSql(db_id, table_id, FrozenCatalog()) : "";
    if (auto t = tables_.find(table_id); t != tables_.end())
      staged.assign(std::begin(t->second.staged), std::end(t->second.staged));
    RIFFLE_RETURN_IF_ERROR(conn.Exec("BEGIN TRANSACTION"));
    auto n = conn.QueryInt64s("SELECT (SELECT count(*) FROM " + *live + ")" +
                              (frozen->empty() ? "" : " + (SELECT count(*) FROM " + *frozen + ")"));
    if (!n.ok()) {
      (void)conn.Exec("ROLLBACK");
      return n.status();
    }
    return (*n)[0][0];
  };
  auto check_piece = [&](const TimeRange& piece, const std::string& live,
                         const std::string& frozen) -> Result<bool> {
    std::string in = InRangesSql({piece});
    std::string rows =
        EmptyRowsSql(*table) + " UNION ALL BY NAME SELECT * FROM " + live + " WHERE " + in;
    if (!frozen.empty()) rows += " UNION ALL BY NAME SELECT * FROM " + frozen + " WHERE " + in;
    std::vector<std::string> paths, keys;
    for (const auto& f : files)
      if (f.min_time <= piece.hi && piece.lo <= f.max_time) {
        paths.push_back(f.path);
        keys.push_back(f.key.empty() ? f.path : f.key);
      }
    std::shared_ptr<void> pinned;
    if (!paths.empty()) {
      RIFFLE_ASSIGN_OR_RETURN(pinned, pin(keys));
      rows += " UNION ALL BY NAME SELECT * FROM (" + ReadParquetSql(PathListSql(paths)) +
              ") WHERE " + in;
    }
    RIFFLE_ASSIGN_OR_RETURN(auto repeats, conn.QueryInt64s(RepeatExistsSql(*table, rows)));
    return repeats[0][0] == 0;
  };
  std::vector<TimeRange> unrepeated;
  Status checked = Status::Ok();
  for (const auto& r : ranges) {
    std::string live, frozen;
    auto buffered = begin(&live, &frozen);
    if (!buffered.ok()) {
      checked = buffered.status();
      break;
    }
    std::vector<TimeRange> pieces = CheckPieces(r, *buffered, files, kRowsPerPiece);
    for (size_t i = 0; i < pieces.size() && checked.ok(); ++i) {
      if (i > 0) {
        (void)conn.Exec("COMMIT");
        auto again = begin(&live, &frozen);
        if (!again.ok()) {
          checked = again.status();
          break;
        }
      }
      if (stop()) break;
      auto clean = check_piece(pieces[i], live, frozen);
      if (!clean.ok())
        checked = clean.status();
      else if (*clean)
        unrepeated.push_back(pieces[i]);
    }
    (void)conn.Exec(checked.ok() ? "COMMIT" : "ROLLBACK");
    if (!checked.ok() || stop()) break;
  }
  std::lock_guard lock(mu_);
  auto dup = duplicates_.find(table_id);
  if (dup == duplicates_.end())
    return checked.ok() ? unrepeated : Result<std::vector<TimeRange>>(checked);
  // Pieces checked before a failure stay checked: each was read whole in its own transaction.
  if (dup->second.EndCheck(unrepeated)) {
    const catalog::CatalogState& now = NewestLocked(*state);
    auto known = tables_.find(table_id);
    const catalog::Table* t = known == tables_.end() ? nullptr : now.FindTableById(db_id, table_id);
    const catalog::Database* db = t ? now.FindDatabaseById(db_id) : nullptr;
    if (db) RIFFLE_RETURN_IF_ERROR(SyncTable(*db, *t));  // the view without the forgotten spans
  }
  if (!checked.ok()) return checked;
  return unrepeated;
}

}  // namespace riffle::buffer
