// StagedRows: rows as DuckDB data chunks, read through the table function riffle_staged.
#include "duck/staged_rows.h"

#include <atomic>
#include <cstring>
#include <unordered_map>

#include "duck/connection.h"
#include "duck/internal.h"

namespace riffle::duck {

namespace {

constexpr const char* kFunction = "riffle_staged";

std::mutex registry_mu;
std::unordered_map<uint64_t, std::weak_ptr<StagedRows>>& Registry() {
  static auto* registry = new std::unordered_map<uint64_t, std::weak_ptr<StagedRows>>();
  return *registry;
}
uint64_t next_key = 1;

std::shared_ptr<StagedRows> Find(uint64_t key) {
  std::lock_guard lock(registry_mu);
  auto it = Registry().find(key);
  return it == Registry().end() ? nullptr : it->second.lock();
}

void DestroyChunk(_duckdb_data_chunk* c) {
  duckdb_data_chunk chunk = c;
  duckdb_destroy_data_chunk(&chunk);
}

size_t BytesPerRow(const std::vector<StagedRows::Column>& columns, size_t count) {
  size_t bytes = 0;
  for (size_t c = 0; c < count && c < columns.size(); ++c) {
    switch (columns[c].kind) {
      case ColumnKind::kBoolean:
        bytes += 1;
        break;
      case ColumnKind::kVarchar:
        bytes += 16;  // the inline string; a longer one's bytes are in the chunk's heap too
        break;
      default:
        bytes += 8;
    }
  }
  return bytes;
}

std::shared_ptr<_duckdb_data_chunk> NewChunk(const std::vector<StagedRows::Column>& columns) {
  std::vector<duckdb_logical_type> types;
  for (const auto& c : columns) types.push_back(duckdb_create_logical_type(TypeId(c.kind)));
  duckdb_data_chunk chunk = duckdb_create_data_chunk(types.data(), types.size());
  for (auto& t : types) duckdb_destroy_logical_type(&t);
  return std::shared_ptr<_duckdb_data_chunk>(chunk, DestroyChunk);
}

struct BindData {
  std::shared_ptr<StagedRows> staged;
  size_t columns;
  bool with_position;
  uint64_t max_entries;  // 0: every chunk
  std::optional<std::pair<int64_t, int64_t>> range;  // only chunks with rows in [lo, hi]
};

struct InitData {
  std::vector<StagedRows::Entry> entries;
  std::vector<int64_t> positions;  // of each entry's first row (skipped chunks keep theirs)
  std::vector<size_t> projected;   // the bound columns the scan reads, in output order
  size_t next = 0;
};

// [lo, hi] from a BIGINT[] parameter; none when it is NULL or not two non-NULL values.
std::optional<std::pair<int64_t, int64_t>> RangeOf(duckdb_value list) {
  if (duckdb_is_null_value(list) || duckdb_get_list_size(list) != 2) return std::nullopt;
  duckdb_value lo = duckdb_get_list_child(list, 0);
  duckdb_value hi = duckdb_get_list_child(list, 1);
  std::optional<std::pair<int64_t, int64_t>> range;
  if (!duckdb_is_null_value(lo) && !duckdb_is_null_value(hi))
    range.emplace(duckdb_get_int64(lo), duckdb_get_int64(hi));
  duckdb_destroy_value(&lo);
  duckdb_destroy_value(&hi);
  return range;
}

// The smallest and largest of `count` times (INT64_MAX and INT64_MIN for none).
std::pair<int64_t, int64_t> TimeSpan(const int64_t* times, const uint64_t* validity, size_t count) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (size_t r = 0; r < count; ++r) {
    if (validity && !(validity[r / 64] >> (r % 64) & 1)) continue;
    lo = std::min(lo, times[r]);
    hi = std::max(hi, times[r]);
  }
  return {lo, hi};
}

void Bind(duckdb_bind_info info) {
  duckdb_value key_arg = duckdb_bind_get_parameter(info, 0);
  duckdb_value position_arg = duckdb_bind_get_parameter(info, 1);
  uint64_t key = duckdb_get_uint64(key_arg);
  bool with_position = duckdb_get_bool(position_arg);
  duckdb_value entries_arg = duckdb_bind_get_parameter(info, 2);
  uint64_t max_entries = duckdb_get_uint64(entries_arg);
  duckdb_value range_arg = duckdb_bind_get_parameter(info, 3);
  auto range = RangeOf(range_arg);
  duckdb_destroy_value(&key_arg);
  duckdb_destroy_value(&position_arg);
  duckdb_destroy_value(&entries_arg);
  duckdb_destroy_value(&range_arg);
  std::shared_ptr<StagedRows> staged = Find(key);
  if (!staged) {
    duckdb_bind_set_error(info, "riffle_staged: no staged rows have this key");
    return;
  }
  std::vector<StagedRows::Column> columns = staged->ReadColumns();
  for (const auto& c : columns) {
    duckdb_logical_type type = duckdb_create_logical_type(TypeId(c.kind));
    duckdb_bind_add_result_column(info, c.name.c_str(), type);
    duckdb_destroy_logical_type(&type);
  }
  if (with_position) {
    duckdb_logical_type type = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_bind_add_result_column(info, StagedRows::kPositionColumn, type);
    duckdb_destroy_logical_type(&type);
  }
  duckdb_bind_set_bind_data(
      info, new BindData{std::move(staged), columns.size(), with_position, max_entries, range},
      [](void* p) { delete static_cast<BindData*>(p); });
}

void Init(duckdb_init_info info) {
  auto* bind = static_cast<BindData*>(duckdb_init_get_bind_data(info));
  auto* state = new InitData{};
  std::vector<StagedRows::Entry> entries = bind->staged->Snapshot();
  if (bind->max_entries > 0 && entries.size() > bind->max_entries)
    entries.resize(bind->max_entries);
  int64_t position = StagedRows::kFirstPosition;
  for (auto& e : entries) {
    const int64_t first = position;
    position += static_cast<int64_t>(e.rows);
    if (!bind->range || (e.max_time >= bind->range->first && e.min_time <= bind->range->second)) {
      state->positions.push_back(first);
      state->entries.push_back(std::move(e));
    }
  }
  for (idx_t i = 0; i < duckdb_init_get_column_count(info); ++i)
    state->projected.push_back(duckdb_init_get_column_index(info, i));
  duckdb_init_set_init_data(info, state, [](void* p) { delete static_cast<InitData*>(p); });
}

void Produce(duckdb_function_info info, duckdb_data_chunk out) {
  auto* bind = static_cast<BindData*>(duckdb_function_get_bind_data(info));
  auto* state = static_cast<InitData*>(duckdb_function_get_init_data(info));
  if (state->next >= state->entries.size()) {
    duckdb_data_chunk_set_size(out, 0);
    return;
  }
  const int64_t position = state->positions[state->next];
  const StagedRows::Entry& e = state->entries[state->next++];
  for (size_t j = 0; j < state->projected.size(); ++j) {
    size_t c = state->projected[j];
    duckdb_vector vec = duckdb_data_chunk_get_vector(out, j);
    if (c == bind->columns) {  // the position column
      auto* positions = static_cast<int64_t*>(duckdb_vector_get_data(vec));
      for (size_t r = 0; r < e.rows; ++r) positions[r] = position + static_cast<int64_t>(r);
    } else if (c < e.columns) {
      duckdb_vector_reference_vector(vec, duckdb_data_chunk_get_vector(e.chunk.get(), c));
    } else {
      duckdb_vector_ensure_validity_writable(vec);  // a column added after this chunk: NULL
      std::memset(duckdb_vector_get_validity(vec), 0, (e.rows + 63) / 64 * sizeof(uint64_t));
    }
  }
  duckdb_data_chunk_set_size(out, e.rows);
}

}  // namespace

std::shared_ptr<StagedRows> StagedRows::Create(std::vector<Column> columns) {
  std::shared_ptr<StagedRows> staged(new StagedRows());
  staged->columns_ = std::move(columns);
  staged->FindTimeColumn();
  std::lock_guard lock(registry_mu);
  staged->key_ = next_key++;
  Registry()[staged->key_] = staged;
  return staged;
}

StagedRows::~StagedRows() {
  std::lock_guard lock(registry_mu);
  Registry().erase(key_);
}

Status StagedRows::Register(Connection& conn) {
  DuckResult probe;
  std::string exists = "SELECT count(*) FROM duckdb_functions() WHERE function_name = '" +
                       std::string(kFunction) + "'";
  if (duckdb_query(conn.conn_, exists.c_str(), probe.get()) == DuckDBError)
    return Status::Internal("cannot look up the table function " + std::string(kFunction));
  if (duckdb_value_int64(probe.get(), 0, 0) > 0) return Status::Ok();
  duckdb_table_function f = duckdb_create_table_function();
  duckdb_table_function_set_name(f, kFunction);
  duckdb_logical_type key_type = duckdb_create_logical_type(DUCKDB_TYPE_UBIGINT);
  duckdb_logical_type flag_type = duckdb_create_logical_type(DUCKDB_TYPE_BOOLEAN);
  duckdb_table_function_add_parameter(f, key_type);
  duckdb_table_function_add_parameter(f, flag_type);
  duckdb_table_function_add_parameter(f, key_type);  // at most this many chunks (0: all)
  duckdb_logical_type bigint_type = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
  duckdb_logical_type range_type = duckdb_create_list_type(bigint_type);
  duckdb_table_function_add_parameter(f, range_type);  // [lo, hi] or NULL
  duckdb_destroy_logical_type(&bigint_type);
  duckdb_destroy_logical_type(&range_type);
  duckdb_destroy_logical_type(&key_type);
  duckdb_destroy_logical_type(&flag_type);
  duckdb_table_function_set_bind(f, Bind);
  duckdb_table_function_set_init(f, Init);
  duckdb_table_function_set_function(f, Produce);
  duckdb_table_function_supports_projection_pushdown(f, true);
  duckdb_state st = duckdb_register_table_function(conn.conn_, f);
  duckdb_destroy_table_function(&f);
  if (st == DuckDBError)
    return Status::Internal("cannot register the table function " + std::string(kFunction));
  return Status::Ok();
}

size_t StagedRows::ChunkRows() { return duckdb_vector_size(); }

std::string StagedRows::CallSql(bool with_position, size_t max_chunks,
                                const std::string& range) const {
  return std::string(kFunction) + "(" + std::to_string(key_) + "::UBIGINT, " +
         (with_position ? "true" : "false") + ", " + std::to_string(max_chunks) + "::UBIGINT, " +
         range + "::BIGINT[])";
}

std::string StagedRows::ScanSql(bool with_position, const std::string& range_variable) const {
  return CallSql(with_position, 0,
                 range_variable.empty() ? std::string("NULL")
                                        : "getvariable(" + QuoteLiteral(range_variable) + ")");
}

std::string StagedRows::ScanFrontSql(size_t entries) const {
  return CallSql(false, entries, "NULL");
}

size_t StagedRows::FrontEntriesToMove(size_t group_rows) const {
  const size_t capacity = duckdb_vector_size();
  std::lock_guard lock(mu_);
  size_t full = 0;  // leading chunks that are full
  while (full < entries_.size() && entries_[full].rows == capacity) ++full;
  size_t groups = full * capacity / group_rows;
  if (groups > 0 && group_rows % capacity == 0) return groups * group_rows / capacity;
  return rows_ >= 2 * group_rows ? entries_.size() : 0;
}

void StagedRows::DropFront(size_t entries) {
  std::lock_guard lock(mu_);
  entries = std::min(entries, entries_.size());
  if (entries == 0) return;
  if (open_listed_ && entries == entries_.size()) {  // the open chunk goes too
    open_.reset();
    open_rows_ = 0;
    open_listed_ = false;
  }
  for (size_t i = 0; i < entries; ++i) {
    rows_ -= entries_[i].rows;
    bytes_ -= std::min(bytes_, BytesPerRow(columns_, entries_[i].columns) * duckdb_vector_size());
  }
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(entries));
}

void StagedRows::SetColumns(std::vector<Column> columns) {
  std::lock_guard lock(mu_);
  columns_ = std::move(columns);
  FindTimeColumn();
}

void StagedRows::FindTimeColumn() {
  time_column_ = SIZE_MAX;
  for (size_t c = 0; c < columns_.size(); ++c)
    if (columns_[c].name == "time" && columns_[c].kind == ColumnKind::kTimestampNs)
      time_column_ = c;
}

void StagedRows::Close() {
  open_.reset();
  open_rows_ = 0;
  open_listed_ = false;
  window_rows_ = 0;
}

size_t StagedRows::Begin(size_t rows) {
  const size_t capacity = duckdb_vector_size();
  if (open_ && (open_rows_ == capacity ||
                duckdb_data_chunk_get_column_count(open_.get()) != columns_.size()))
    Close();
  if (!open_) {
    open_ = NewChunk(columns_);
    vectors_.resize(columns_.size());
    validity_.resize(columns_.size());
    for (size_t c = 0; c < columns_.size(); ++c) {
      duckdb_vector vec = duckdb_data_chunk_get_vector(open_.get(), c);
      duckdb_vector_ensure_validity_writable(vec);
      vectors_[c] = vec;
      validity_[c] = duckdb_vector_get_validity(vec);
      std::memset(validity_[c], 0, (capacity + 63) / 64 * sizeof(uint64_t));  // every cell NULL
      // A string vector gets its heap with the first string past 12 bytes; a reader copies the
      // vector's pointer to it, so it must exist before any reader can see the chunk.
      if (columns_[c].kind == ColumnKind::kVarchar)
        duckdb_vector_assign_string_element_len(vec, 0, "the string heap", 15);
    }
  }
  window_rows_ = std::min(rows, capacity - open_rows_);
  return window_rows_;
}

int64_t* StagedRows::Int64s(size_t column) {
  return static_cast<int64_t*>(duckdb_vector_get_data(vectors_[column])) + open_rows_;
}
uint64_t* StagedRows::UInt64s(size_t column) {
  return static_cast<uint64_t*>(duckdb_vector_get_data(vectors_[column])) + open_rows_;
}
double* StagedRows::Doubles(size_t column) {
  return static_cast<double*>(duckdb_vector_get_data(vectors_[column])) + open_rows_;
}
bool* StagedRows::Bools(size_t column) {
  return static_cast<bool*>(duckdb_vector_get_data(vectors_[column])) + open_rows_;
}

void StagedRows::SetValid(size_t column, size_t row) {
  // Readers may be reading the committed rows that share this word: their bits stay as they
  // are, and the word changes atomically.
  size_t at = open_rows_ + row;
  std::atomic_ref<uint64_t>(validity_[column][at / 64])
      .fetch_or(uint64_t{1} << (at % 64), std::memory_order_relaxed);
}

void StagedRows::SetString(size_t column, size_t row, const char* data, size_t size) {
  duckdb_vector_assign_string_element_len(vectors_[column], open_rows_ + row, data, size);
  SetValid(column, row);
}

void StagedRows::Commit() {
  if (window_rows_ == 0) return;
  auto [lo, hi] = time_column_ < vectors_.size()
                      ? TimeSpan(Int64s(time_column_), nullptr, window_rows_)
                      : std::pair<int64_t, int64_t>{INT64_MIN, INT64_MAX};
  std::lock_guard lock(mu_);
  open_rows_ += window_rows_;
  rows_ += window_rows_;
  if (!open_listed_) {
    entries_.push_back({open_, 0, columns_.size()});
    bytes_ += BytesPerRow(columns_, columns_.size()) * duckdb_vector_size();
    open_listed_ = true;
  }
  Entry& e = entries_.back();
  e.rows = open_rows_;
  e.min_time = std::min(e.min_time, lo);
  e.max_time = std::max(e.max_time, hi);
  window_rows_ = 0;
}

void StagedRows::Replace(std::vector<_duckdb_data_chunk*> chunks) {
  Close();
  std::vector<Entry> entries;
  size_t rows = 0, bytes = 0;
  for (_duckdb_data_chunk* c : chunks) {
    std::shared_ptr<_duckdb_data_chunk> chunk(c, DestroyChunk);
    size_t n = duckdb_data_chunk_get_size(c);
    if (n == 0) continue;  // an empty chunk would end a scan early
    size_t ncols = duckdb_data_chunk_get_column_count(c);
    Entry e{std::move(chunk), n, ncols, INT64_MIN, INT64_MAX};
    if (time_column_ < ncols) {
      duckdb_vector times = duckdb_data_chunk_get_vector(c, time_column_);
      std::tie(e.min_time, e.max_time) =
          TimeSpan(static_cast<const int64_t*>(duckdb_vector_get_data(times)),
                   duckdb_vector_get_validity(times), n);
    }
    entries.push_back(std::move(e));
    rows += n;
    bytes += BytesPerRow(columns_, ncols) * duckdb_vector_size();
  }
  std::lock_guard lock(mu_);
  entries_ = std::move(entries);
  rows_ = rows;
  bytes_ = bytes;
}

Result<int64_t> StagedRows::DeleteWhere(Connection& conn, const std::string& condition) {
  size_t before = rows();
  if (before == 0) return 0;
  std::string sql = "SELECT * FROM " + ScanSql(false) + " WHERE (" + condition + ") IS NOT TRUE";
  DuckResult result;
  if (duckdb_query(conn.conn_, sql.c_str(), result.get()) == DuckDBError) {
    const char* err = duckdb_result_error(result.get());
    return Status::Internal("deleting staged rows failed: " + std::string(err ? err : "?"));
  }
  std::vector<_duckdb_data_chunk*> kept;
  while (duckdb_data_chunk chunk = duckdb_fetch_chunk(*result.get())) kept.push_back(chunk);
  Replace(std::move(kept));
  return static_cast<int64_t>(before) - static_cast<int64_t>(rows());
}

std::vector<StagedRows::Column> StagedRows::ReadColumns() const {
  std::lock_guard lock(mu_);
  return columns_;
}

size_t StagedRows::rows() const {
  std::lock_guard lock(mu_);
  return rows_;
}

size_t StagedRows::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

std::vector<StagedRows::Entry> StagedRows::Snapshot() const {
  std::lock_guard lock(mu_);
  return entries_;
}

}  // namespace riffle::duck
