// ChunkAppender: rows into a table by one INSERT prepared per table that reads the queued
// chunks through a table function (see connection.h).
#include <cstring>
#include <map>
#include <mutex>

#include "duck/connection.h"
#include "duck/internal.h"

namespace riffle::duck {

namespace {

constexpr const char* kQueuedChunksFunction = "riffle_queued_chunks";

// The inserting appenders, by the id their INSERT passes to the table function: the function
// runs on whichever thread DuckDB picks, during the appender's Commit.
std::mutex sources_mu;
std::map<uint64_t, ChunkAppender*>& Sources() {
  static auto* sources = new std::map<uint64_t, ChunkAppender*>();
  return *sources;
}
uint64_t next_source_id = 1;

}  // namespace

// The table function riffle_queued_chunks(id): the chunks appender `id` queued, by reference.
struct QueuedChunks {
  struct Cursor {
    ChunkAppender* appender;
    size_t next = 0;
  };

  static ChunkAppender* Find(uint64_t id) {
    std::lock_guard lock(sources_mu);
    auto it = Sources().find(id);
    return it == Sources().end() ? nullptr : it->second;
  }

  static void Bind(duckdb_bind_info info) {
    duckdb_value arg = duckdb_bind_get_parameter(info, 0);
    uint64_t id = duckdb_get_uint64(arg);
    duckdb_destroy_value(&arg);
    ChunkAppender* a = Find(id);
    if (!a) {
      duckdb_bind_set_error(info, "riffle_queued_chunks: no appender has this id");
      return;
    }
    for (size_t c = 0; c < a->types_.size(); ++c)
      duckdb_bind_add_result_column(info, ("c" + std::to_string(c)).c_str(),
                                    static_cast<duckdb_logical_type>(a->types_[c]));
    duckdb_bind_set_bind_data(info, new uint64_t(id),
                              [](void* p) { delete static_cast<uint64_t*>(p); });
  }

  static void Init(duckdb_init_info info) {
    uint64_t id = *static_cast<uint64_t*>(duckdb_init_get_bind_data(info));
    ChunkAppender* a = Find(id);
    if (!a) {
      duckdb_init_set_error(info, "riffle_queued_chunks: the appender is gone");
      return;
    }
    duckdb_init_set_init_data(info, new Cursor{a}, [](void* p) { delete static_cast<Cursor*>(p); });
  }

  static void Produce(duckdb_function_info info, duckdb_data_chunk out) {
    auto* cursor = static_cast<Cursor*>(duckdb_function_get_init_data(info));
    const auto& queued = cursor->appender->queued_;
    if (cursor->next >= queued.size()) {
      duckdb_data_chunk_set_size(out, 0);
      return;
    }
    duckdb_data_chunk chunk = queued[cursor->next++];
    for (idx_t c = 0; c < duckdb_data_chunk_get_column_count(chunk); ++c)
      duckdb_vector_reference_vector(duckdb_data_chunk_get_vector(out, c),
                                     duckdb_data_chunk_get_vector(chunk, c));
    duckdb_data_chunk_set_size(out, duckdb_data_chunk_get_size(chunk));
  }

  static Status Register(duckdb_connection conn) {
    duckdb_table_function f = duckdb_create_table_function();
    duckdb_table_function_set_name(f, kQueuedChunksFunction);
    duckdb_logical_type id_type = duckdb_create_logical_type(DUCKDB_TYPE_UBIGINT);
    duckdb_table_function_add_parameter(f, id_type);
    duckdb_destroy_logical_type(&id_type);
    duckdb_table_function_set_bind(f, Bind);
    duckdb_table_function_set_init(f, Init);
    duckdb_table_function_set_function(f, Produce);
    duckdb_state st = duckdb_register_table_function(conn, f);
    duckdb_destroy_table_function(&f);
    if (st == DuckDBError)
      return Status::Internal("cannot register the table function riffle_queued_chunks");
    return Status::Ok();
  }
};

Result<std::unique_ptr<ChunkAppender>> ChunkAppender::Open(Connection& conn,
                                                           const std::string& catalog,
                                                           const std::string& schema,
                                                           const std::string& table,
                                                           const std::vector<ColumnKind>& columns) {
  std::unique_ptr<ChunkAppender> a(new ChunkAppender());
  a->kinds_ = columns;
  for (ColumnKind k : columns) a->types_.push_back(duckdb_create_logical_type(TypeId(k)));
  {
    std::lock_guard lock(sources_mu);
    a->source_id_ = next_source_id++;
    Sources()[a->source_id_] = a.get();
  }
  std::string sql = "INSERT INTO " + QuoteIdent(catalog) + "." + QuoteIdent(schema) + "." +
                    QuoteIdent(table) + " SELECT * FROM " + kQueuedChunksFunction + "(" +
                    std::to_string(a->source_id_) + "::UBIGINT)";
  auto prepare = [&]() -> Status {
    duckdb_prepared_statement stmt = nullptr;
    if (duckdb_prepare(conn.conn_, sql.c_str(), &stmt) == DuckDBError) {
      std::string err = stmt && duckdb_prepare_error(stmt) ? duckdb_prepare_error(stmt) : "?";
      duckdb_destroy_prepare(&stmt);
      return Status::Internal("cannot prepare the buffer's INSERT: " + err);
    }
    a->insert_ = stmt;
    return Status::Ok();
  };
  // The function is registered once per database, by the first connection that needs it.
  if (Status first = prepare(); !first.ok()) {
    // Registered already: the INSERT failed for a reason of its own, which is the answer.
    if (!QueuedChunks::Register(conn.conn_).ok()) return first;
    RIFFLE_RETURN_IF_ERROR(prepare());
  }
  return a;
}

ChunkAppender::~ChunkAppender() {
  {
    std::lock_guard lock(sources_mu);
    Sources().erase(source_id_);
  }
  DropQueued();
  if (insert_) {
    duckdb_prepared_statement stmt = insert_;
    duckdb_destroy_prepare(&stmt);
  }
  if (chunk_) {
    duckdb_data_chunk chunk = chunk_;
    duckdb_destroy_data_chunk(&chunk);
  }
  for (void*& t : types_) {
    auto type = static_cast<duckdb_logical_type>(t);
    duckdb_destroy_logical_type(&type);
  }
}

size_t ChunkAppender::Capacity() const { return duckdb_vector_size(); }

void ChunkAppender::Begin(size_t rows) {
  if (chunk_) {
    duckdb_data_chunk chunk = chunk_;
    duckdb_destroy_data_chunk(&chunk);
  }
  std::vector<duckdb_logical_type> types;
  for (void* t : types_) types.push_back(static_cast<duckdb_logical_type>(t));
  chunk_ = duckdb_create_data_chunk(types.data(), types.size());
  rows_ = rows;
  vectors_.resize(types.size());
  validity_.resize(types.size());
  for (size_t c = 0; c < types.size(); ++c) {
    duckdb_vector vec = duckdb_data_chunk_get_vector(chunk_, c);
    duckdb_vector_ensure_validity_writable(vec);
    vectors_[c] = vec;
    validity_[c] = duckdb_vector_get_validity(vec);
    std::memset(validity_[c], 0, (rows + 63) / 64 * sizeof(uint64_t));
  }
}

int64_t* ChunkAppender::Int64s(size_t column) {
  return static_cast<int64_t*>(
      duckdb_vector_get_data(static_cast<duckdb_vector>(vectors_[column])));
}
uint64_t* ChunkAppender::UInt64s(size_t column) {
  return static_cast<uint64_t*>(
      duckdb_vector_get_data(static_cast<duckdb_vector>(vectors_[column])));
}
double* ChunkAppender::Doubles(size_t column) {
  return static_cast<double*>(duckdb_vector_get_data(static_cast<duckdb_vector>(vectors_[column])));
}
bool* ChunkAppender::Bools(size_t column) {
  return static_cast<bool*>(duckdb_vector_get_data(static_cast<duckdb_vector>(vectors_[column])));
}

void ChunkAppender::SetString(size_t column, size_t row, const char* data, size_t size) {
  duckdb_vector_assign_string_element_len(static_cast<duckdb_vector>(vectors_[column]), row, data,
                                          size);
  SetValid(column, row);
}

void ChunkAppender::DropQueued() {
  for (auto*& queued : queued_) {
    duckdb_data_chunk chunk = queued;
    duckdb_destroy_data_chunk(&chunk);
  }
  queued_.clear();
}

Status ChunkAppender::Flush() {
  duckdb_data_chunk_set_size(chunk_, rows_);
  queued_.push_back(chunk_);
  chunk_ = nullptr;
  pending_rows_ += rows_;
  return Status::Ok();
}

Status ChunkAppender::Commit() {
  pending_rows_ = 0;
  if (queued_.empty()) return Status::Ok();
  DuckResult result;
  Status st;
  if (duckdb_execute_prepared(insert_, result.get()) == DuckDBError) {
    const char* err = duckdb_result_error(result.get());
    st = Status::Internal(std::string("insert failed: ") + (err ? err : "?"));
  }
  DropQueued();
  return st;
}

}  // namespace riffle::duck
