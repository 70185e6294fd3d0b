#include "duck/result_reader.h"

#include <cmath>
#include <cstdio>

#include "common/clock.h"

namespace riffle::duck {
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
    case DUCKDB_TYPE_SMALLINT:
      return static_cast<int16_t*>(data)[row] / div;
    case DUCKDB_TYPE_INTEGER:
      return static_cast<int32_t*>(data)[row] / div;
    case DUCKDB_TYPE_BIGINT:
      return static_cast<double>(static_cast<int64_t*>(data)[row]) / div;
    case DUCKDB_TYPE_HUGEINT:
      return HugeintToDouble(static_cast<duckdb_hugeint*>(data)[row]) / div;
    default:
      return NAN;
  }
}

// Exact as int64 or uint64 when it fits, else the nearest double.
Value HugeintValue(duckdb_hugeint h) {
  if ((h.upper == 0 && h.lower <= INT64_MAX) || (h.upper == -1 && h.lower > INT64_MAX))
    return static_cast<int64_t>(h.lower);
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

ChunkReader::ChunkReader(duckdb_result* result) {
  idx_t ncols = duckdb_column_count(result);
  for (idx_t c = 0; c < ncols; ++c) {
    std::string name = duckdb_column_name(result, c);
    if (name == "count_star()") name = "count(*)";  // DataFusion's name for it
    names_.push_back(std::move(name));
    types_.push_back(duckdb_column_logical_type(result, c));
    ids_.push_back(duckdb_get_type_id(types_.back()));
  }
}

ChunkReader::~ChunkReader() {
  for (auto& t : types_) duckdb_destroy_logical_type(&t);
}

Status ChunkReader::Read(duckdb_data_chunk chunk, Batch* out) const {
  const size_t ncols = names_.size();
  idx_t n = duckdb_data_chunk_get_size(chunk);
  out->rows = n;
  out->columns.resize(ncols);
  for (idx_t c = 0; c < ncols; ++c) {
    std::vector<Value>& column = out->columns[c];
    column.assign(n, Value{});
    duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, c);
    void* data = duckdb_vector_get_data(vec);
    uint64_t* validity = duckdb_vector_get_validity(vec);
    for (idx_t r = 0; r < n; ++r) {
      if (validity && !duckdb_validity_row_is_valid(validity, r)) continue;
      Value& v = column[r];
      switch (ids_[c]) {
        case DUCKDB_TYPE_BOOLEAN:
          v = static_cast<bool*>(data)[r];
          break;
        case DUCKDB_TYPE_TINYINT:
          v = int64_t{static_cast<int8_t*>(data)[r]};
          break;
        case DUCKDB_TYPE_SMALLINT:
          v = int64_t{static_cast<int16_t*>(data)[r]};
          break;
        case DUCKDB_TYPE_INTEGER:
          v = int64_t{static_cast<int32_t*>(data)[r]};
          break;
        case DUCKDB_TYPE_BIGINT:
          v = static_cast<int64_t*>(data)[r];
          break;
        case DUCKDB_TYPE_UTINYINT:
          v = uint64_t{static_cast<uint8_t*>(data)[r]};
          break;
        case DUCKDB_TYPE_USMALLINT:
          v = uint64_t{static_cast<uint16_t*>(data)[r]};
          break;
        case DUCKDB_TYPE_UINTEGER:
          v = uint64_t{static_cast<uint32_t*>(data)[r]};
          break;
        case DUCKDB_TYPE_UBIGINT:
          v = static_cast<uint64_t*>(data)[r];
          break;
        case DUCKDB_TYPE_HUGEINT:
          v = HugeintValue(static_cast<duckdb_hugeint*>(data)[r]);
          break;
        case DUCKDB_TYPE_FLOAT:
          v = double{static_cast<float*>(data)[r]};
          break;
        case DUCKDB_TYPE_DOUBLE:
          v = static_cast<double*>(data)[r];
          break;
        case DUCKDB_TYPE_DECIMAL:
          // Whole numbers (sum of UBIGINT is DECIMAL(38,0)) stay exact while they fit 64 bits.
          if (duckdb_decimal_scale(types_[c]) == 0 &&
              duckdb_decimal_internal_type(types_[c]) == DUCKDB_TYPE_HUGEINT)
            v = HugeintValue(static_cast<duckdb_hugeint*>(data)[r]);
          else
            v = DecimalToDouble(vec, types_[c], r);
          break;
        case DUCKDB_TYPE_VARCHAR:
        case DUCKDB_TYPE_BLOB: {
          auto* s = &static_cast<duckdb_string_t*>(data)[r];
          v = std::string(duckdb_string_t_data(s), duckdb_string_t_length(*s));
          break;
        }
        case DUCKDB_TYPE_TIMESTAMP:
        case DUCKDB_TYPE_TIMESTAMP_TZ:
          v = Timestamp{static_cast<int64_t*>(data)[r] * 1000};
          break;
        case DUCKDB_TYPE_TIMESTAMP_S:
          v = Timestamp{static_cast<int64_t*>(data)[r] * 1000000000};
          break;
        case DUCKDB_TYPE_TIMESTAMP_MS:
          v = Timestamp{static_cast<int64_t*>(data)[r] * 1000000};
          break;
        case DUCKDB_TYPE_TIMESTAMP_NS:
          v = Timestamp{static_cast<int64_t*>(data)[r]};
          break;
        case DUCKDB_TYPE_DATE:
          v = DateString(static_cast<int32_t*>(data)[r]);
          break;
        case DUCKDB_TYPE_INTERVAL:
          v = IntervalString(static_cast<duckdb_interval*>(data)[r]);
          break;
        default:
          return Status::InvalidArgument("Unsupported data type in query result column '" +
                                         names_[c] + "': " + TypeName(types_[c]) +
                                         " (cast it to VARCHAR)");
      }
    }
  }
  return Status::Ok();
}

}  // namespace riffle::duck
