#include <cstring>
#include <string>

#include "duck/connection.h"
#include "duck/internal.h"

namespace riffle::duck {

namespace {

// Copies the values (times `scale`, checked) and the NULL mask of a flat timestamp vector.
template <int64_t scale>
bool TimestampToNanos(duckdb_function_info info, idx_t count, duckdb_vector input,
                      duckdb_vector output) {
  const auto* in = static_cast<const int64_t*>(duckdb_vector_get_data(input));
  auto* out = static_cast<int64_t*>(duckdb_vector_get_data(output));
  uint64_t* in_valid = duckdb_vector_get_validity(input);
  if (in_valid) {
    duckdb_vector_ensure_validity_writable(output);
    std::memcpy(duckdb_vector_get_validity(output), in_valid, (count + 63) / 64 * sizeof(uint64_t));
  }
  for (idx_t i = 0; i < count; ++i) {
    if (in_valid && !duckdb_validity_row_is_valid(in_valid, i)) continue;
    if (__builtin_mul_overflow(in[i], scale, &out[i])) {
      duckdb_cast_function_set_row_error(info, "timestamp is out of range for Int64 nanoseconds", i,
                                         output);
      return false;
    }
  }
  return true;
}

Status Register(duckdb_connection conn, duckdb_type source, duckdb_cast_function_t fn,
                const char* name) {
  duckdb_cast_function cast = duckdb_create_cast_function();
  duckdb_logical_type from = duckdb_create_logical_type(source);
  duckdb_logical_type to = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
  duckdb_cast_function_set_source_type(cast, from);
  duckdb_cast_function_set_target_type(cast, to);
  duckdb_cast_function_set_function(cast, fn);
  duckdb_state st = duckdb_register_cast_function(conn, cast);
  duckdb_destroy_logical_type(&from);
  duckdb_destroy_logical_type(&to);
  duckdb_destroy_cast_function(&cast);
  if (st == DuckDBError)
    return Status::Internal(std::string("cannot register the cast ") + name + " -> BIGINT");
  return Status::Ok();
}

}  // namespace

Status RegisterCompatCasts(Connection& connection) {
  duckdb_connection conn = connection.conn_;
  RIFFLE_RETURN_IF_ERROR(
      Register(conn, DUCKDB_TYPE_TIMESTAMP_NS, TimestampToNanos<1>, "TIMESTAMP_NS"));
  RIFFLE_RETURN_IF_ERROR(
      Register(conn, DUCKDB_TYPE_TIMESTAMP, TimestampToNanos<1000>, "TIMESTAMP"));
  return Register(conn, DUCKDB_TYPE_TIMESTAMP_TZ, TimestampToNanos<1000>,
                  "TIMESTAMP WITH TIME ZONE");
}

}  // namespace riffle::duck
