// Row deletes in the buffer and in Parquet files: the rows a wal::RowDelete selects, removed
// from the buffer's tables when the WAL delivers the delete (Append), and from a Parquet file by
// writing a copy without them (the persister swaps the copy in).
#include <algorithm>

#include "buffer/buffer.h"
#include "common/log.h"
#include "duck/duck.h"

namespace riffle::buffer {

using duck::QuoteIdent;
using duck::QuoteLiteral;

std::optional<std::string> RowDeleteSql(const catalog::Table& table, const wal::RowDelete& d) {
  std::vector<std::string> terms;
  if (d.min_time != INT64_MIN)
    terms.push_back("\"time\" >= make_timestamp_ns(" + std::to_string(d.min_time) + ")");
  if (d.max_time != INT64_MAX)
    terms.push_back("\"time\" <= make_timestamp_ns(" + std::to_string(d.max_time) + ")");
  // A row without the tag has it as NULL; "" matches those (InfluxDB has no empty tag values).
  for (const auto& [tag, value] : d.tags) {
    if (!table.Find(tag)) {
      if (!value.empty()) return std::nullopt;
      continue;  // every row lacks it
    }
    terms.push_back("coalesce(" + QuoteIdent(tag) + ", '') = " + QuoteLiteral(value));
  }
  if (terms.empty()) return "true";
  std::string sql;
  for (const auto& t : terms) sql += (sql.empty() ? "" : " AND ") + t;
  return sql;
}

Status Buffer::DeleteRowsLocked(const catalog::CatalogState& state, const wal::WriteOp& op) {
  const wal::RowDelete& d = *op.row_delete;
  const catalog::Table* table = state.FindTableById(op.db_id, d.table_id);
  auto it = tables_.find(d.table_id);
  if (!table || it == tables_.end()) return Status::Ok();  // deleted since; its rows went with it
  std::optional<std::string> where = RowDeleteSql(*table, d);
  if (!where) return Status::Ok();
  newest_times_.Forget(d.table_id);  // a key's newest rows may go
  auto failed = [&](const Status& st) {
    return Status::Internal("deleting rows of table '" + table->name +
                            "' from the buffer failed: " + st.message());
  };
  int64_t removed = 0;
  for (int c : CatalogsOf(d.table_id)) {
    auto count = conn_.QueryInt64s("DELETE FROM " + DataTableRef(c, op.db_id, d.table_id) +
                                   " WHERE " + *where);
    if (!count.ok()) return failed(count.status());
    if (!count->empty() && !(*count)[0].empty()) removed += (*count)[0][0];
    if (duck::StagedRows* staged = it->second.staged[c].get()) {
      auto staged_count = staged->DeleteWhere(conn_, *where);
      if (!staged_count.ok()) return failed(staged_count.status());
      removed += *staged_count;
    }
  }
  deleted_rows_[d.sequence] += removed;
  return Status::Ok();
}

int64_t Buffer::TakeDeletedRows(uint64_t sequence) {
  std::lock_guard lock(mu_);
  auto it = deleted_rows_.find(sequence);
  if (it == deleted_rows_.end()) return 0;
  int64_t n = it->second;
  deleted_rows_.erase(it);
  return n;
}

namespace {
// The rows of Parquet file `input`, with every column of `table` (a file written before a
// column was added lacks it; the condition may name it).
std::string FileRowsSql(const catalog::Table& table, const std::string& input) {
  return "(" + EmptyRowsSql(table) + " UNION ALL BY NAME SELECT * FROM read_parquet(" +
         QuoteLiteral(input) + ")) AS file_rows";
}
}  // namespace

Result<int64_t> Buffer::CountParquetRows(const catalog::Table& table, const std::string& input,
                                         const std::string& where) {
  auto conn = duck::Connection::Open(*db_);
  if (!conn.ok()) return Status::Internal("row delete: " + conn.status().message());
  ScanGuard scanning(this);
  auto count =
      conn->QueryInt64s("SELECT count(*) FROM " + FileRowsSql(table, input) + " WHERE " + where);
  if (!count.ok()) return count.status();
  return (*count)[0][0];
}

Result<int64_t> Buffer::CopyParquetWithout(const catalog::Table& table, const std::string& input,
                                           const std::string& where, const std::string& output) {
  auto conn = duck::Connection::Open(*db_);
  if (!conn.ok()) return Status::Internal("row delete: " + conn.status().message());
  ScanGuard scanning(this);
  // The file's order (series, then time) is kept: DuckDB preserves insertion order in COPY.
  auto copied =
      conn->QueryInt64s("COPY (SELECT * FROM " + FileRowsSql(table, input) + " WHERE NOT (" +
                        where + ")) TO " + QuoteLiteral(output) + parquet_options_);
  if (!copied.ok()) return copied.status();
  return (*copied)[0][0];
}

}  // namespace riffle::buffer
