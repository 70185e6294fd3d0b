// Reading the one Arrow IPC input clients send: a Flight SQL prepared statement's parameter
// values (DoPut), a Schema message then a RecordBatch of one row.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "query/value.h"

namespace riffle::flight {

struct IpcInput {
  std::string header;  // the Message flatbuffer
  std::string body;
};

// The first row of the stream as (field name, value) pairs. Columns of Int8..Int64, UInt8..UInt64,
// Float32/64, Utf8, Bool and Timestamp are read; any other type is an error naming the field.
Result<std::vector<std::pair<std::string, query::Value>>> ReadFirstRow(
    const std::vector<IpcInput>& messages);

}  // namespace riffle::flight
