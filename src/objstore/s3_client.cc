#include "objstore/s3_client.h"

#include <openssl/evp.h>

#include <algorithm>
#include <random>
#include <thread>

#include "common/log.h"

namespace riffle::objstore {
namespace {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t KeepEtag(char* data, size_t size, size_t count, void* user) {
  std::string_view line(data, size * count);
  constexpr std::string_view kName = "etag:";
  if (line.size() > kName.size()) {
    std::string lower(line.substr(0, kName.size()));
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower == kName) {
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() &&
             (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
        value.remove_suffix(1);
      *static_cast<std::string*>(user) = std::string(value);
    }
  }
  return size * count;
}

bool Retryable(const S3Response& r) {
  if (r.status >= 500 || r.status == 429 || r.status == 408) return true;
  // S3 answers an upload it waited too long for with 400 RequestTimeout.
  return r.status == 400 && XmlValue(r.body, "Code") == "RequestTimeout";
}

void DecodeEntities(std::string& s) {
  static const std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    bool replaced = false;
    if (s[i] == '&') {
      for (const auto& [entity, c] : kEntities)
        if (s.compare(i, entity.size(), entity) == 0) {
          out.push_back(c);
          i += entity.size();
          replaced = true;
          break;
        }
      if (!replaced && s.compare(i, 2, "&#") == 0) {
        size_t end = s.find(';', i);
        if (end != std::string::npos) {
          bool hex = s[i + 2] == 'x';
          long code = std::strtol(s.c_str() + i + (hex ? 3 : 2), nullptr, hex ? 16 : 10);
          if (code > 0 && code < 128) {
            out.push_back(static_cast<char>(code));
            i = end + 1;
            replaced = true;
          }
        }
      }
    }
    if (!replaced) out.push_back(s[i++]);
  }
  s = std::move(out);
}

}  // namespace

std::string XmlValue(std::string_view xml, std::string_view tag, size_t from, size_t* next) {
  std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  size_t start = xml.find(open, from);
  if (start == std::string_view::npos) {
    if (next) *next = std::string_view::npos;
    return {};
  }
  start += open.size();
  size_t end = xml.find(close, start);
  if (end == std::string_view::npos) {
    if (next) *next = std::string_view::npos;
    return {};
  }
  if (next) *next = end + close.size();
  std::string value(xml.substr(start, end - start));
  DecodeEntities(value);
  return value;
}

std::string UriEncode(std::string_view text, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string S3ErrorText(const S3Response& response) {
  std::string code = XmlValue(response.body, "Code"), message = XmlValue(response.body, "Message");
  std::string out = "HTTP " + std::to_string(response.status);
  if (!code.empty()) out += " " + code;
  if (!message.empty()) out += ": " + message;
  return out;
}

S3Client::S3Client(S3Options options) : options_(std::move(options)) {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == 0;
  (void)initialised;
  std::string endpoint = options_.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  base_url_ = endpoint.empty()
                  ? "https://" + options_.bucket + ".s3." + options_.region + ".amazonaws.com"
                  : endpoint + "/" + UriEncode(options_.bucket, false);
  sigv4_ = "aws:amz:" + options_.region + ":s3";
}

S3Client::~S3Client() {
  for (CURL* h : idle_) curl_easy_cleanup(h);
}

std::string S3Client::Describe(const S3Request& request) const {
  return std::string(request.method) + " s3://" + options_.bucket + "/" + request.key;
}

CURL* S3Client::Acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !idle_.empty() || open_ < options_.connection_limit; });
  if (!idle_.empty()) {
    CURL* h = idle_.back();
    idle_.pop_back();
    return h;
  }
  ++open_;
  return curl_easy_init();
}

void S3Client::Release(CURL* handle) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(handle);
  }
  cv_.notify_one();
}

Result<S3Response> S3Client::Attempt(CURL* h, const S3Request& request) {
  // The handle keeps its connection (and DNS, TLS session) between requests; everything
  // request-specific is set again.
  curl_easy_reset(h);
  std::string url = base_url_;
  if (!request.key.empty()) url += "/" + UriEncode(request.key, true);
  if (!request.query.empty()) url += "?" + request.query;
  S3Response response;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(options_.request_timeout.count(), 10'000)));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, KeepEtag);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.etag);
  std::string_view method = request.method;
  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (method == "PUT" || method == "POST") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (method == "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
  } else if (method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method);
  }
  // Every header given here is signed, so none may be a removal ("Name:"): libcurl 7.88 would
  // sign it with an empty value that is never sent.
  curl_slist* headers = nullptr;
  for (const auto& header : request.headers) headers = curl_slist_append(headers, header.c_str());
  if (method == "PUT" || method == "POST")
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
  std::string content_hash = "x-amz-content-sha256: " + Sha256Hex(request.body);
  if (!options_.skip_signature) {
    headers = curl_slist_append(headers, content_hash.c_str());
    if (!options_.session_token.empty())
      headers =
          curl_slist_append(headers, ("x-amz-security-token: " + options_.session_token).c_str());
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, options_.access_key_id.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, options_.secret_access_key.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK)
    return Status::Unavailable(Describe(request) + ": " +
                               (error[0] ? error : curl_easy_strerror(rc)));
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Result<S3Response> S3Client::Send(const S3Request& request) {
  auto deadline = std::chrono::steady_clock::now() + options_.retry_timeout;
  std::chrono::milliseconds backoff{100};
  thread_local std::mt19937 jitter{std::random_device{}()};
  Status last;
  for (int attempt = 0;; ++attempt) {
    CURL* h = Acquire();
    auto result = Attempt(h, request);
    if (!result.ok()) {
      // A broken connection must not be reused.
      curl_easy_cleanup(h);
      {
        std::lock_guard lock(mu_);
        --open_;
      }
      cv_.notify_one();
      last = result.status();
    } else {
      Release(h);
      if (!Retryable(*result)) return result;
      last = Status::Unavailable(Describe(request) + ": " + S3ErrorText(*result));
    }
    // Full jitter: concurrent retries after a throttling answer do not arrive together.
    auto pause = std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(backoff.count() / 2, backoff.count())(jitter));
    if (attempt >= options_.max_retries || std::chrono::steady_clock::now() + pause > deadline)
      return Status::Unavailable(last.message() + " (gave up after " + std::to_string(attempt + 1) +
                                 (attempt ? " attempts)" : " attempt)"));
    log::Warn(last.message() + "; retrying in " + std::to_string(pause.count()) + " ms");
    std::this_thread::sleep_for(pause);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(15));
  }
}

}  // namespace riffle::objstore
