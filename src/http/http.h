// HTTP front end: a Boost.Beast server and the InfluxDB 3 API routes.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace riffle::auth {
struct TokenInfo;
}

namespace riffle::http {

// Tells a handler that its client hung up while the request was still being handled, so that
// long work (a query) can stop instead of running for nobody.
class ClientWatch {
 public:
  // Runs `f` once the client is gone (at once if it already is).
  void OnGone(std::function<void()> f);
  void Gone();  // the server's side

 private:
  std::mutex mu_;
  bool gone_ = false;
  std::function<void()> on_gone_;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::string raw_query;
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::map<std::string, std::string> headers;             // names lower-cased
  std::string body;                                       // already gunzipped
  std::shared_ptr<ClientWatch> client;                    // null when not served over a socket
  std::shared_ptr<const auth::TokenInfo> token;            // the caller's token; null when auth is off

  // Last value of a query parameter, if present.
  const std::string* Param(const std::string& name) const;
  // A true/false query parameter: `fallback` when absent, true when given without a value, an
  // error naming it for anything but true or false (never guessed: `data_only=1` taken as false
  // would delete a whole database).
  Result<bool> BoolParam(const std::string& name, bool fallback) const;
  std::string Header(const std::string& name) const;
};

// A response body produced piece by piece and sent with chunked transfer encoding, so a large
// query result is never held whole. Next appends the next piece to `*out` and returns false
// once the body is complete (it may append a last piece in that call). An error ends the
// response without its terminating chunk, so clients see a truncated transfer; the error text
// is sent first as a last piece for people reading the raw output.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual Result<bool> Next(std::string* out) = 0;
};

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<BodyStream> stream;  // when set, sent chunked instead of `body`

  static Response Json(int status, std::string body);
  static Response Error(int status, const std::string& message);  // {"error": message}
  static Response Text(int status, std::string body);
  static Response Empty(int status);
};

using Reply = std::function<void(Response)>;
using Handler = std::function<void(Request&&, Reply)>;

struct ServerOptions {
  std::string bind = "0.0.0.0:8181";
  size_t max_request_bytes = 10 * 1024 * 1024;
  int threads = 2;
  // When set, connections that open with the HTTP/2 preface (gRPC clients) are handed over as
  // a non-blocking socket descriptor that the callee owns; all others are served as HTTP/1.1.
  std::function<void(int fd)> adopt_grpc;
  // --tls-cert/--tls-key (PEM files): every connection speaks TLS; gRPC clients reach
  // adopt_grpc through ALPN h2. --tls-minimum-version: "tls-1.2" (default) or "tls-1.3".
  std::string tls_cert, tls_key, tls_min_version;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();
  // Binds and starts serving on background threads.
  Status Start();
  // Stops accepting, waits up to `drain` for the requests already read to be answered, then
  // closes every connection.
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(0));
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// URL helpers shared with the CLI's tests.
std::string UrlDecode(std::string_view s, bool plus_as_space = true);
std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view q);
Status GunzipInto(std::string_view in, size_t limit, std::string* out);

}  // namespace riffle::http
