// Response bodies that stream a query's result: encoded batch by batch as the client reads,
// or a Parquet file read from disk a piece at a time.
#pragma once

#include <memory>
#include <string>

#include "http/http.h"
#include "query/query.h"

namespace riffle::http {

class EncodedResultBody final : public BodyStream {
 public:
  EncodedResultBody(std::unique_ptr<query::ResultStream> result,
                    std::unique_ptr<query::Encoder> encoder)
      : result_(std::move(result)), encoder_(std::move(encoder)) {}
  // Fetches the first batch, so that an error DuckDB raises only once rows are produced still
  // gets a proper status before any byte of the body is sent.
  Status Prime();
  Result<bool> Next(std::string* out) override;

 private:
  std::unique_ptr<query::ResultStream> result_;  // released as soon as the last batch is read
  std::unique_ptr<query::Encoder> encoder_;
  query::Batch batch_;
  bool begun_ = false, pending_ = false;
};

// Opens `path` and removes its name at once: the file is gone from disk when the body is
// done or dropped, whatever happens to the connection.
Result<std::shared_ptr<BodyStream>> FileBody(const std::string& path);

}  // namespace riffle::http
