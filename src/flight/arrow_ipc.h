// Arrow IPC encoding (the streaming format's messages, as Flight carries them) of results that
// DuckDB exports through the Arrow C data interface; written from the Arrow columnar format
// specification because Arrow C++ is not packaged for Debian 12.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "duck/arrow_c.h"

namespace riffle::flight {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// One result column as it goes on the wire.
struct WireColumn {
  std::string name;
  std::string format;  // the Arrow C data interface format of its arrays, e.g. "tsn:", "u"
  KeyValues metadata;  // the field's custom_metadata (iox::column::type)
  bool nullable = true;
  std::vector<WireColumn> children;  // of lists, maps, structs and dense unions
};

// The Arrow format a column goes on the wire as: its own, except DuckDB's raw vector layouts
// "duck:varchar" (Utf8) and "duck:bool" (Bool).
const char* WireFormat(const std::string& format);

// The columns of an exported struct schema (one child per column); an error names a column
// whose type Flight results cannot carry.
Result<std::vector<WireColumn>> ColumnsOf(const ArrowSchema& schema);

// One IPC message: the Message flatbuffer and its body (the buffers, each padded to 8 bytes).
struct IpcMessage {
  std::string header;
  std::string body;
};

// The Schema message; `metadata` goes in the schema's own custom_metadata.
IpcMessage SchemaMessage(const std::vector<WireColumn>& columns, const KeyValues& metadata = {});

// Rows [begin, end) of `array`, a struct array with one child per column.
struct Slice {
  const ArrowArray* array;
  int64_t begin, end;
};

// One RecordBatch message of the slices' rows, in order (several DuckDB chunks become one
// message: fewer, larger messages are cheaper for both ends).
Result<IpcMessage> RecordBatchMessage(const std::vector<WireColumn>& columns,
                                      const std::vector<Slice>& slices);

// The body bytes that rows [begin, end) of `array` take, roughly (fixed widths and strings).
size_t EncodedBytes(const std::vector<WireColumn>& columns, const ArrowArray& array, int64_t begin,
                    int64_t end);

// The encapsulated form of a message (continuation marker, length, header, padding, body) that
// FlightInfo.schema and the Flight SQL schema fields carry.
std::string Encapsulate(const IpcMessage& message);

}  // namespace riffle::flight
