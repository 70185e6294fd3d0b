// TLS on the one port (serve --tls-cert/--tls-key): OpenSSL through Boost.Asio's ssl::context.
// Internal to the http component; http.h's ServerOptions carries the flags.
//
// ALPN decides who serves a TLS connection, as the HTTP/2 preface does on plain TCP: a client
// offering only "h2" (every gRPC client: Arrow Flight) gets h2 and is bridged to gRPC; a client
// offering "http/1.1" (curl, browsers, the client libraries' HTTP side) gets HTTP/1.1.
#pragma once

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace riffle::http {

struct TlsFiles {
  std::string cert_file;    // PEM: the certificate chain, leaf first
  std::string key_file;     // PEM: its private key
  std::string min_version;  // "tls-1.2" (default) or "tls-1.3"
};

// The server's TLS context, rebuilt when the certificate or key file changes (checked at most
// once a second, as connections arrive): a renewed certificate is served without a restart,
// and a renewal that does not load keeps the last good one.
class TlsContexts {
 public:
  static Result<std::shared_ptr<TlsContexts>> Create(TlsFiles files, bool offer_h2);
  std::shared_ptr<boost::asio::ssl::context> Current();

 private:
  TlsContexts(TlsFiles files, bool offer_h2) : files_(std::move(files)), offer_h2_(offer_h2) {}
  Result<std::shared_ptr<boost::asio::ssl::context>> Load() const;
  std::pair<timespec, timespec> ModifiedTimes() const;

  TlsFiles files_;
  bool offer_h2_;
  std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;
  std::pair<timespec, timespec> loaded_times_{};
  std::chrono::steady_clock::time_point last_check_{};
};

// The protocol ALPN chose on a finished handshake: "h2", "http/1.1" or "" (none).
std::string NegotiatedProtocol(SSL* ssl);

}  // namespace riffle::http
