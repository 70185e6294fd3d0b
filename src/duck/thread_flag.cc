// A scalar function that reads a flag of the thread binding the statement (see connection.h).
#include "duck/connection.h"
#include "duck/internal.h"

namespace riffle::duck {

namespace {

thread_local int scopes_on_this_thread = 0;

// Called with one row when DuckDB folds the constant call at bind time.
void ReadThreadFlag(duckdb_function_info, duckdb_data_chunk input, duckdb_vector output) {
  auto* out = static_cast<bool*>(duckdb_vector_get_data(output));
  idx_t rows = duckdb_data_chunk_get_size(input);
  for (idx_t i = 0; i < rows; ++i) out[i] = scopes_on_this_thread > 0;
}

}  // namespace

ThreadFlagScope::ThreadFlagScope() { ++scopes_on_this_thread; }
ThreadFlagScope::~ThreadFlagScope() { --scopes_on_this_thread; }

Status RegisterThreadFlag(Connection& connection, const char* name) {
  duckdb_scalar_function fn = duckdb_create_scalar_function();
  duckdb_scalar_function_set_name(fn, name);
  duckdb_logical_type boolean = duckdb_create_logical_type(DUCKDB_TYPE_BOOLEAN);
  duckdb_scalar_function_set_return_type(fn, boolean);
  duckdb_scalar_function_set_function(fn, ReadThreadFlag);
  duckdb_state st = duckdb_register_scalar_function(connection.conn_, fn);
  duckdb_destroy_logical_type(&boolean);
  duckdb_destroy_scalar_function(&fn);
  if (st == DuckDBError)
    return Status::Internal(std::string("cannot register the function ") + name + "()");
  return Status::Ok();
}

}  // namespace riffle::duck
