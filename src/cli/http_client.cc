#include "cli/http_client.h"

#include <curl/curl.h>

#include <nlohmann/json.hpp>

namespace riffle::cli {
namespace {

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

std::string UrlEncode(const std::string& s) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

Result<HttpResult> HttpCall(const ClientOptions& opts, const std::string& method, const std::string& path_and_query,
                            const std::string& body, const std::string& content_type,
                            const std::vector<std::string>& extra_headers) {
  static bool initialised = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == 0; }();
  (void)initialised;
  CURL* curl = curl_easy_init();
  if (!curl) return Status::Internal("cannot initialise libcurl");
  std::string host = opts.host;
  while (!host.empty() && host.back() == '/') host.pop_back();
  std::string url = host + path_and_query;
  HttpResult result;
  curl_slist* headers = nullptr;
  if (!content_type.empty()) headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
  if (!opts.token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + opts.token).c_str());
  for (const auto& h : extra_headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!opts.tls_ca.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, opts.tls_ca.c_str());
  if (opts.tls_no_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  CURLcode rc = curl_easy_perform(curl);
  Status st;
  if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
    st = Status::Unavailable("the server at " + host + " has a certificate this client does not trust: " +
                             curl_easy_strerror(rc) +
                             " (pass its CA with --tls-ca FILE or INFLUXDB3_TLS_CA; --tls-no-verify skips the "
                             "check, for testing only)");
  } else if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_GOT_NOTHING) {
    st = Status::Unavailable("could not talk to the server at " + host + ": " + curl_easy_strerror(rc) +
                             " (does --host say https:// for a server started with --tls-cert, and http:// "
                             "otherwise?)");
  } else if (rc != CURLE_OK) {
    st = Status::Unavailable("could not reach the server at " + host + ": " + curl_easy_strerror(rc) +
                             " (is `influxdb3 serve` running? set --host or INFLUXDB3_HOST_URL)");
  } else {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
    char* ct = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
    if (ct) result.content_type = ct;
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (!st.ok()) return st;
  return result;
}

std::string ErrorMessage(const HttpResult& r) {
  try {
    auto j = nlohmann::json::parse(r.body);
    std::string msg;
    if (j.contains("error") && j["error"].is_string()) msg = j["error"];
    else if (j.contains("message") && j["message"].is_string()) msg = j["message"];
    if (!msg.empty()) {
      if (j.contains("data")) msg += "\n" + j["data"].dump(2);
      return msg;
    }
  } catch (...) {
  }
  return r.body.empty() ? "HTTP status " + std::to_string(r.status) : r.body;
}

}  // namespace riffle::cli
