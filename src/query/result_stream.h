// A query's result as a stream of columnar batches that a consumer pulls one at a time, so
// that no output ever holds the whole result: HTTP formats, InfluxQL and plugins read from it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "duck/arrow_c.h"
#include "query/value.h"

namespace riffle::query {

using duck::Batch;  // up to 2,048 rows, column by column

class ResultStream {
 public:
  virtual ~ResultStream() = default;
  virtual const std::vector<std::string>& column_names() const = 0;
  // Fills `batch` with the next rows; returns false once the result is exhausted. An error
  // raised while the query runs (after earlier batches were returned) ends the stream.
  virtual Result<bool> Next(Batch* batch) = 0;
  // The same rows in the Arrow C data interface, for outputs that send Arrow on (Flight): a
  // struct schema with one child per column, then each batch as a struct array that the caller
  // releases. Use either Next or NextArrow on one stream. Streams that DuckDB does not produce
  // directly answer Unimplemented.
  virtual Status ArrowSchemaOf(ArrowSchema* out) {
    return Status::Unimplemented("this result has no Arrow form");
  }
  virtual Result<bool> NextArrow(ArrowArray* out) {
    return Status::Unimplemented("this result has no Arrow form");
  }
  // DuckDB's vectors lent as Arrow-like arrays, for results of simple column types (see
  // duck::Rows::VectorFormats): the fastest way out for encoders that read them directly.
  virtual const std::optional<std::vector<std::string>>& VectorFormats() const {
    static const std::optional<std::vector<std::string>> none;
    return none;
  }
  virtual Result<bool> NextVectors(ArrowArray* out) {
    return Status::Unimplemented("this result has no vector form");
  }
};

// Reads a stream to its end into rows (for callers that need the whole result at once).
Result<QueryResult> Collect(ResultStream& stream);

// Encodes a stream into one output format piece by piece: Begin, then Add for each batch,
// then End. The pieces concatenated are the whole document.
class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual void Begin(const std::vector<std::string>& column_names, std::string* out) = 0;
  virtual void Add(const Batch& batch, std::string* out) = 0;
  virtual void End(std::string* out) = 0;
};

}  // namespace riffle::query
