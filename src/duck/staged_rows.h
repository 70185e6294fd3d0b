// duck::StagedRows: rows kept as DuckDB data chunks outside any table, which SQL reads through
// the table function riffle_staged(key, with_position). The write buffer stages each table's
// rows here and moves them into its DuckDB table only a row group at a time.
//
// Why not append to the table on every WAL flush: DuckDB 1.4 gives each column of a table a
// 256 KB block for the rows appended after its first 2,048 (or after a checkpoint compressed
// them), and an in-memory database has no smaller block size. A table written a few rows per
// flush then held about 10 MB (1,000 such tables: 6.5 GB for 1M rows), and each flush paid an
// INSERT per table (1,000 tables: 18k lines/s). A whole row group (122,880 rows) is moved into
// the table as it is, in the small blocks it was built in, which a checkpoint then compresses.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "duck/value.h"

struct _duckdb_data_chunk;
struct _duckdb_vector;

namespace riffle::duck {

class Connection;

class StagedRows {
 public:
  struct Column {
    std::string name;
    ColumnKind kind;
  };
  // A chunk readers may see, with the rows of it they may read.
  struct Entry {
    std::shared_ptr<_duckdb_data_chunk> chunk;
    size_t rows = 0;
    size_t columns = 0;  // a chunk begun before the table gained columns has fewer
    // The times of its rows, so that a scan given a time range skips the chunk (a chunk
    // without a time column is never skipped).
    int64_t min_time = INT64_MAX;
    int64_t max_time = INT64_MIN;
  };
  // The name of the position column riffle_staged(key, true) adds: arrival order, from
  // kFirstPosition on, so that it sorts after any rowid of a table.
  static constexpr const char* kPositionColumn = "riffle_position";
  static constexpr int64_t kFirstPosition = int64_t{1} << 39;

  // Registered under a key of its own until it is destroyed.
  static std::shared_ptr<StagedRows> Create(std::vector<Column> columns);
  ~StagedRows();
  StagedRows(const StagedRows&) = delete;
  StagedRows& operator=(const StagedRows&) = delete;
  // The table function on `conn`'s database (once per database; again is a no-op).
  static Status Register(Connection& conn);
  static size_t ChunkRows();  // rows a chunk holds (DuckDB's vector size)
  // riffle_staged(<key>::UBIGINT, false|true, 0::UBIGINT, <range>): its rows, every column
  // (NULL where a row's chunk lacks a later column), with the position column when asked. A
  // statement bound to it keeps reading the rows it saw even once they are cleared or this
  // object is gone. With `range_variable`, the scan reads that session variable when it is
  // bound: a list [lo, hi] of nanoseconds skips the chunks whose times all fall outside it
  // (DuckDB's C API hands a table function no filter to do that with); NULL (unset) skips none.
  std::string ScanSql(bool with_position, const std::string& range_variable = "") const;
  // The same scan of the first `entries` chunks only (Snapshot's order), for a move.
  std::string ScanFrontSql(size_t entries) const;
  // How many of the first chunks a move takes so that it moves whole row groups of
  // `group_rows`: the full chunks up to the last whole group, or every chunk when chunks of
  // other sizes (a delete's, a column change's) keep the full ones from making one while
  // `2 * group_rows` rows are staged; 0 when a move should wait.
  size_t FrontEntriesToMove(size_t group_rows) const;
  // Drops the first `entries` chunks (moved into the table).
  void DropFront(size_t entries);

  // Everything below is for one writer at a time (the buffer's, under its lock); readers run
  // concurrently and see the rows committed when their scan began.
  // The table gained columns (never loses or reorders one).
  void SetColumns(std::vector<Column> columns);
  size_t ColumnCount() const { return columns_.size(); }
  // Room for up to `rows` rows (at least one): fills the open chunk before a new one. Returns
  // how many rows the window has; Int64s()... and the setters take rows of the window.
  size_t Begin(size_t rows);
  int64_t* Int64s(size_t column);  // kBigint and kTimestampNs
  uint64_t* UInt64s(size_t column);
  double* Doubles(size_t column);
  bool* Bools(size_t column);
  void SetString(size_t column, size_t row, const char* data, size_t size);  // also marks it valid
  void SetValid(size_t column, size_t row);
  // Readers see the window's rows from now on.
  void Commit();
  // The rows become those of `chunks` (a copy without deleted rows), each taken over.
  void Replace(std::vector<_duckdb_data_chunk*> chunks);
  // Removes the rows for which the SQL `condition` holds (it may name the columns); returns
  // how many. Readers that began before keep the rows they saw.
  Result<int64_t> DeleteWhere(Connection& conn, const std::string& condition);
  size_t rows() const;
  size_t bytes() const;                     // the chunks' memory, about
  std::vector<Column> ReadColumns() const;  // for readers
  std::vector<Entry> Snapshot() const;
  const std::vector<Column>& columns() const { return columns_; }

 private:
  StagedRows() = default;
  void Close();  // ends the open chunk: the next Begin starts another
  void FindTimeColumn();
  // riffle_staged(key, with_position, max_chunks, range) for this object's key.
  std::string CallSql(bool with_position, size_t max_chunks, const std::string& range) const;
  uint64_t key_ = 0;
  std::vector<Column> columns_;
  size_t time_column_ = SIZE_MAX;  // the "time" column's index, if there is one
  mutable std::mutex mu_;       // guards entries_ and the counts
  std::vector<Entry> entries_;  // committed
  size_t rows_ = 0;
  size_t bytes_ = 0;
  // The open chunk (the last entry's, or a new one not yet committed) and the window in it.
  std::shared_ptr<_duckdb_data_chunk> open_;
  size_t open_rows_ = 0;      // committed rows of the open chunk
  bool open_listed_ = false;  // the open chunk is entries_.back()
  size_t window_rows_ = 0;
  std::vector<_duckdb_vector*> vectors_;
  std::vector<uint64_t*> validity_;
};

}  // namespace riffle::duck
