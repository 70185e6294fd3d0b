// flight: Arrow Flight and Flight SQL over gRPC, the query protocol of every official InfluxDB 3
// client library and of Grafana. It shares the HTTP port: http::Server hands over each
// connection that opens with the HTTP/2 preface, and gRPC C++ serves it.
#pragma once

#include <memory>

#include "common/status.h"

namespace riffle::auth {
class TokenStore;
}
namespace riffle::catalog {
class Catalog;
}
namespace riffle::query {
class QueryEngine;
}

namespace riffle::flight {

struct FlightOptions {
  catalog::Catalog* catalog = nullptr;
  query::QueryEngine* engine = nullptr;
  auth::TokenStore* tokens = nullptr;  // checked once it holds a token, as HTTP does
  bool without_auth = false;
  int max_threads = 16;  // gRPC's request threads (each runs one call at a time)
};

class FlightServer {
 public:
  static Result<std::unique_ptr<FlightServer>> Start(FlightOptions options);
  virtual ~FlightServer() = default;
  // Serves gRPC on an accepted, non-blocking connection; the server owns `fd` from here on.
  virtual void Adopt(int fd) = 0;
  // Ends every call (clients see UNAVAILABLE) and waits for them.
  virtual void Stop() = 0;
};

}  // namespace riffle::flight
