#include "query/result_reader.h"

#include <cmath>
#include <cstdio>

#include "common/clock.h"

namespace riffle::query {
namespace {

std::string TypeName(duckdb_logical_type t) {
  char* s = duckdb_logical_type_get_alias(t);
  std::string name;
  if (s) {
    name = s;
    duckdb_free(s);
  } else {
    name = "type id " + std::to_string(duckdb_get_type_id(t));
  }
  return name;
}

double HugeintToDouble(duckdb_hugeint h) {
  return static_cast<double>(h.upper) * 18446744073709551616.0 + static_cast<double>(h.lower);
}

double DecimalToDouble(duckdb_vector vec, duckdb_logical_type type, idx_t row) {
  uint8_t scale = duckdb_decimal_scale(type);
  double div = std::pow(10.0, scale);
  void* data = duckdb_vector_get_data(vec);
  switch (duckdb_decimal_internal_type(type)) {
    case DUCKDB_TYPE_SMALLINT: return static_cast<int16_t*>(data)[row] / div;
    case DUCKDB_TYPE_INTEGER: return static_cast<int32_t*>(data)[row] / div;
    case DUCKDB_TYPE_BIGINT: return static_cast<double>(static_cast<int64_t*>(data)[row]) / div;
    case DUCKDB_TYPE_HUGEINT: return HugeintToDouble(static_cast<duckdb_hugeint*>(data)[row]) / div;
    default: return NAN;
  }
}

// Exact as int64 or uint64 when it fits, else the nearest double.
Value HugeintValue(duckdb_hugeint h) {
  if ((h.upper == 0 && h.lower <= INT64_MAX) || (h.upper == -1 && h.lower > INT64_MAX)) return static_cast<int64_t>(h.lower);
  if (h.upper == 0) return static_cast<uint64_t>(h.lower);
  return HugeintToDouble(h);
}

std::string DateString(int32_t days) {
  int y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
  return buf;
}

std::string IntervalString(duckdb_interval iv) {
  std::string out;
  if (iv.months) out += std::to_string(iv.months) + " mons ";
  if (iv.days) out += std::to_string(iv.days) + " days ";
  int64_t us = iv.micros;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%02lld:%02lld:%02lld", us < 0 ? "-" : "",
                static_cast<long long>(std::llabs(us) / 3600000000LL),
                static_cast<long long>(std::llabs(us) / 60000000LL % 60),
                static_cast<long long>(std::llabs(us) / 1000000LL % 60));
  out += buf;
  if (us % 1000000) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(std::llabs(us) % 1000000));
    out += buf;
  }
  return out;
}

}  // namespace

Status ReadResult(duckdb_result* result, QueryResult* out) {
  idx_t ncols = duckdb_column_count(result);
  std::vector<duckdb_logical_type> types(ncols);
  std::vector<duckdb_type> ids(ncols);
  for (idx_t c = 0; c < ncols; ++c) {
    std::string name = duckdb_column_name(result, c);
    if (name == "count_star()") name = "count(*)";  // DataFusion's name for it
    out->column_names.push_back(std::move(name));
    types[c] = duckdb_column_logical_type(result, c);
    ids[c] = duckdb_get_type_id(types[c]);
  }
  Status status;
  for (;;) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(*result);
    if (!chunk) break;
    idx_t n = duckdb_data_chunk_get_size(chunk);
    size_t base = out->rows.size();
    out->rows.resize(base + n, std::vector<Value>(ncols));
    for (idx_t c = 0; c < ncols && status.ok(); ++c) {
      duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, c);
      void* data = duckdb_vector_get_data(vec);
      uint64_t* validity = duckdb_vector_get_validity(vec);
      for (idx_t r = 0; r < n; ++r) {
        if (validity && !duckdb_validity_row_is_valid(validity, r)) continue;
        Value& v = out->rows[base + r][c];
        switch (ids[c]) {
          case DUCKDB_TYPE_BOOLEAN: v = static_cast<bool*>(data)[r]; break;
          case DUCKDB_TYPE_TINYINT: v = int64_t{static_cast<int8_t*>(data)[r]}; break;
          case DUCKDB_TYPE_SMALLINT: v = int64_t{static_cast<int16_t*>(data)[r]}; break;
          case DUCKDB_TYPE_INTEGER: v = int64_t{static_cast<int32_t*>(data)[r]}; break;
          case DUCKDB_TYPE_BIGINT: v = static_cast<int64_t*>(data)[r]; break;
          case DUCKDB_TYPE_UTINYINT: v = uint64_t{static_cast<uint8_t*>(data)[r]}; break;
          case DUCKDB_TYPE_USMALLINT: v = uint64_t{static_cast<uint16_t*>(data)[r]}; break;
          case DUCKDB_TYPE_UINTEGER: v = uint64_t{static_cast<uint32_t*>(data)[r]}; break;
          case DUCKDB_TYPE_UBIGINT: v = static_cast<uint64_t*>(data)[r]; break;
          case DUCKDB_TYPE_HUGEINT: v = HugeintValue(static_cast<duckdb_hugeint*>(data)[r]); break;
          case DUCKDB_TYPE_FLOAT: v = double{static_cast<float*>(data)[r]}; break;
          case DUCKDB_TYPE_DOUBLE: v = static_cast<double*>(data)[r]; break;
          case DUCKDB_TYPE_DECIMAL:
            // Whole numbers (sum of UBIGINT is DECIMAL(38,0)) stay exact while they fit 64 bits.
            if (duckdb_decimal_scale(types[c]) == 0 && duckdb_decimal_internal_type(types[c]) == DUCKDB_TYPE_HUGEINT)
              v = HugeintValue(static_cast<duckdb_hugeint*>(data)[r]);
            else
              v = DecimalToDouble(vec, types[c], r);
            break;
          case DUCKDB_TYPE_VARCHAR:
          case DUCKDB_TYPE_BLOB: {
            auto* s = &static_cast<duckdb_string_t*>(data)[r];
            v = std::string(duckdb_string_t_data(s), duckdb_string_t_length(*s));
            break;
          }
          case DUCKDB_TYPE_TIMESTAMP:
          case DUCKDB_TYPE_TIMESTAMP_TZ: v = Timestamp{static_cast<int64_t*>(data)[r] * 1000}; break;
          case DUCKDB_TYPE_TIMESTAMP_S: v = Timestamp{static_cast<int64_t*>(data)[r] * 1000000000}; break;
          case DUCKDB_TYPE_TIMESTAMP_MS: v = Timestamp{static_cast<int64_t*>(data)[r] * 1000000}; break;
          case DUCKDB_TYPE_TIMESTAMP_NS: v = Timestamp{static_cast<int64_t*>(data)[r]}; break;
          case DUCKDB_TYPE_DATE: v = DateString(static_cast<int32_t*>(data)[r]); break;
          case DUCKDB_TYPE_INTERVAL: v = IntervalString(static_cast<duckdb_interval*>(data)[r]); break;
          default:
            status = Status::InvalidArgument("Unsupported data type in query result column '" +
                                             out->column_names[c] + "': " + TypeName(types[c]) +
                                             " (cast it to VARCHAR)");
            r = n;
            break;
        }
      }
    }
    duckdb_destroy_data_chunk(&chunk);
    if (!status.ok()) break;
  }
  for (auto& t : types) duckdb_destroy_logical_type(&t);
  return status;
}

}  // namespace riffle::query
