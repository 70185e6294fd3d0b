// The S3 REST calls underneath S3Store: libcurl easy handles kept open (connection reuse),
// signed with libcurl's own AWS SigV4 support, retried with back-off on throttling, server
// errors, timeouts and dropped connections.
#pragma once

#include <curl/curl.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "objstore/s3_store.h"

namespace riffle::objstore {

struct S3Request {
  const char* method = "GET";  // GET, PUT, POST, DELETE, HEAD
  std::string key;             // object key (unencoded); empty: the bucket itself
  std::string query;           // already encoded, parameters in sorted order
  std::string_view body;
  std::vector<std::string> headers;  // extra headers, signed with the request
};

struct S3Response {
  long status = 0;
  std::string body;
  std::string etag;
};

// S3's error document (<Code>, <Message>) or the HTTP status, for messages.
std::string S3ErrorText(const S3Response& response);
// The text of the first <tag>…</tag> after `from` in an S3 XML document, XML entities decoded;
// `*next` (optional) is set past its end. Empty when absent.
std::string XmlValue(std::string_view xml, std::string_view tag, size_t from = 0,
                     size_t* next = nullptr);
// RFC 3986 encoding as SigV4 wants it (unreserved characters kept, '/' kept when `keep_slash`).
std::string UriEncode(std::string_view text, bool keep_slash);

class S3Client {
 public:
  explicit S3Client(S3Options options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Sends the request, retrying transient failures (transport errors, 5xx, 429, S3's
  // RequestTimeout) up to --object-store-max-retries times within --object-store-retry-timeout.
  // Any other HTTP answer is returned as the response; only a request that never got a final
  // answer is an error.
  Result<S3Response> Send(const S3Request& request);

  const S3Options& options() const { return options_; }
  std::string Describe(const S3Request& request) const;  // "PUT s3://bucket/key"

 private:
  CURL* Acquire();
  void Release(CURL* handle);
  // One attempt; a transport failure is an error status.
  Result<S3Response> Attempt(CURL* handle, const S3Request& request);

  S3Options options_;
  std::string base_url_;  // scheme://host[:port]/bucket or the virtual-hosted form
  std::string sigv4_;     // "aws:amz:<region>:s3"

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<CURL*> idle_;
  int open_ = 0;  // handles created (idle or in use)
};

}  // namespace riffle::objstore
