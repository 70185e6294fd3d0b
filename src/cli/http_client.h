// A small libcurl wrapper for the CLI.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace riffle::cli {

struct HttpResult {
  long status = 0;
  std::string body;
  std::string content_type;
};

struct ClientOptions {
  std::string host = "http://127.0.0.1:8181";
  std::string token;
  std::string tls_ca;          // --tls-ca: a PEM CA bundle to verify an https:// server with
  bool tls_no_verify = false;  // --tls-no-verify: accept any certificate (testing only)
};

Result<HttpResult> HttpCall(const ClientOptions& opts, const std::string& method, const std::string& path_and_query,
                            const std::string& body = "", const std::string& content_type = "",
                            const std::vector<std::string>& extra_headers = {});
std::string UrlEncode(const std::string& s);
// The human message of an error response: its JSON "error"/"message" field, else the body.
std::string ErrorMessage(const HttpResult& r);

}  // namespace riffle::cli
