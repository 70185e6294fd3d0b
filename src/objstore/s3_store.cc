// S3Store: ObjectStore over the S3 REST API (path-style when --aws-endpoint is given).
#include "objstore/s3_store.h"

#include <algorithm>
#include <cstdlib>

#include "common/log.h"
#include "objstore/s3_client.h"

namespace riffle::objstore {
namespace {

class S3Store final : public ObjectStore {
 public:
  explicit S3Store(S3Options options) : client_(std::move(options)) {}

  // HeadBucket: the bucket exists and the credentials are accepted.
  Status Check() {
    auto r = client_.Send({.method = "HEAD"});
    if (!r.ok()) return r.status();
    if (r->status == 200) return Status::Ok();
    std::string why = r->status == 404 ? "no such bucket"
                      : r->status == 403
                          ? "access denied (check the access key, secret and the bucket's policy)"
                          : S3ErrorText(*r);
    return Status::IOError("cannot use bucket '" + client_.options().bucket + "' at " + Describe() +
                           ": HTTP " + std::to_string(r->status) + ", " + why);
  }

  Status Put(const std::string& path, std::string_view data) override {
    if (data.size() > client_.options().multipart_part_bytes) return PutMultipart(path, data);
    return PutSingle(path, data, {});
  }

  // Conditional create (If-None-Match: *), which AWS S3 and recent gateways enforce
  // atomically; for stores that ignore the header (s3rver, older Ceph), a HEAD first turns an
  // existing object into AlreadyExists. A retried PUT whose first attempt landed finds its own
  // bytes there, which counts as success.
  Status PutIfAbsent(const std::string& path, std::string_view data) override {
    auto head = client_.Send({.method = "HEAD", .key = path});
    if (!head.ok()) return head.status();
    if (head->status == 200) return Exists(path, data);
    if (head->status != 404) return Failure({.method = "HEAD", .key = path}, *head);
    return PutSingle(path, data, {"If-None-Match: *"});
  }

  Result<std::string> Get(const std::string& path) override {
    S3Request request{.method = "GET", .key = path};
    auto r = client_.Send(request);
    if (!r.ok()) return r.status();
    if (r->status == 404) return Status::NotFound("object not found: " + path);
    if (r->status != 200) return Failure(request, *r);
    return std::move(r->body);
  }

  Status Delete(const std::string& path) override {
    S3Request request{.method = "DELETE", .key = path};
    auto r = client_.Send(request);
    if (!r.ok()) return r.status();
    if (r->status == 204 || r->status == 200 || r->status == 404) return Status::Ok();
    return Failure(request, *r);
  }

  Result<std::vector<std::string>> List(const std::string& prefix) override {
    std::vector<std::string> keys;
    std::string token;
    for (;;) {
      // Parameters in sorted order, as the signature's canonical query wants them.
      std::string query;
      if (!token.empty()) query += "continuation-token=" + UriEncode(token, false) + "&";
      query += "list-type=2&prefix=" + UriEncode(prefix, false);
      S3Request request{.method = "GET", .query = query};
      auto r = client_.Send(request);
      if (!r.ok()) return r.status();
      if (r->status != 200) return Failure(request, *r);
      size_t at = 0;
      for (;;) {
        size_t next = 0;
        std::string contents = XmlValue(r->body, "Contents", at, &next);
        if (next == std::string::npos) break;
        std::string key = XmlValue(contents, "Key");
        if (!key.empty()) keys.push_back(std::move(key));
        at = next;
      }
      if (XmlValue(r->body, "IsTruncated") != "true") break;
      token = XmlValue(r->body, "NextContinuationToken");
      if (token.empty()) break;
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  // Two create-only PUTs of one new key: a store that enforces If-None-Match refuses the
  // second (AWS S3 since 2024, MinIO, Ceph RGW); s3rver accepts both.
  Result<bool> CreateOnlyIsAtomic(const std::string& probe_key) override {
    bool atomic = false;
    for (int i = 0; i < 2; ++i) {
      S3Request put{
          .method = "PUT", .key = probe_key, .body = "probe", .headers = {"If-None-Match: *"}};
      auto r = client_.Send(put);
      if (!r.ok()) return r.status();
      if (i == 0 && r->status != 200) return Failure(put, *r);
      if (i == 1) atomic = r->status == 412 || r->status == 409;
    }
    (void)Delete(probe_key);
    return atomic;
  }

  std::string Describe() const override {
    const auto& o = client_.options();
    return "s3://" + o.bucket + (o.endpoint.empty() ? "" : " (" + o.endpoint + ")");
  }

 private:
  Status Failure(const S3Request& request, const S3Response& response) const {
    std::string text = client_.Describe(request) + ": " + S3ErrorText(response);
    if (response.status == 403)
      return Status::IOError(text + " (check the access key, secret and bucket policy)");
    return Status::IOError(text);
  }

  Status Exists(const std::string& path, std::string_view data) {
    auto existing = Get(path);
    if (existing.ok() && *existing == data) return Status::Ok();
    return Status::AlreadyExists("object already exists: " + path);
  }

  Status PutSingle(const std::string& path, std::string_view data,
                   std::vector<std::string> headers) {
    bool conditional = !headers.empty();
    S3Request request{.method = "PUT", .key = path, .body = data, .headers = std::move(headers)};
    auto r = client_.Send(request);
    if (!r.ok()) return r.status();
    if (r->status == 200) return Status::Ok();
    if (conditional && (r->status == 412 || r->status == 409)) return Exists(path, data);
    return Failure(request, *r);
  }

  // Parts of --multipart size uploaded one after the other, then completed; a failure aborts
  // the upload so the store does not keep the parts.
  Status PutMultipart(const std::string& path, std::string_view data) {
    S3Request create{.method = "POST", .key = path, .query = "uploads="};
    auto created = client_.Send(create);
    if (!created.ok()) return created.status();
    if (created->status != 200) return Failure(create, *created);
    std::string upload_id = XmlValue(created->body, "UploadId");
    if (upload_id.empty())
      return Status::IOError(client_.Describe(create) + ": the answer has no UploadId");
    std::string complete = "<CompleteMultipartUpload>";
    size_t part_bytes = client_.options().multipart_part_bytes;
    Status st;
    int part = 1;
    for (size_t offset = 0; offset < data.size() && st.ok(); offset += part_bytes, ++part) {
      S3Request upload{.method = "PUT",
                       .key = path,
                       .query = "partNumber=" + std::to_string(part) +
                                "&uploadId=" + UriEncode(upload_id, false),
                       .body = data.substr(offset, part_bytes)};
      auto r = client_.Send(upload);
      if (!r.ok())
        st = r.status();
      else if (r->status != 200)
        st = Failure(upload, *r);
      else
        complete += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" + r->etag +
                    "</ETag></Part>";
    }
    complete += "</CompleteMultipartUpload>";
    if (st.ok()) {
      S3Request finish{.method = "POST",
                       .key = path,
                       .query = "uploadId=" + UriEncode(upload_id, false),
                       .body = complete};
      auto r = client_.Send(finish);
      // S3 may answer 200 with an error document when completing fails late.
      if (!r.ok())
        st = r.status();
      else if (r->status != 200 || r->body.find("<Error>") != std::string::npos)
        st = Failure(finish, *r);
      else
        return Status::Ok();
    }
    (void)client_.Send(
        {.method = "DELETE", .key = path, .query = "uploadId=" + UriEncode(upload_id, false)});
    return st;
  }

  S3Client client_;
};

}  // namespace

Result<std::unique_ptr<ObjectStore>> NewS3Store(S3Options options) {
  if (options.bucket.empty())
    return Status::InvalidArgument("--object-store s3 needs --bucket (or INFLUXDB3_BUCKET)");
  if (options.endpoint.rfind("http://", 0) == 0 && !options.allow_http)
    return Status::InvalidArgument("--aws-endpoint " + options.endpoint +
                                   " is plain http; add --aws-allow-http to allow it");
  if (!options.endpoint.empty() && options.endpoint.rfind("http://", 0) != 0 &&
      options.endpoint.rfind("https://", 0) != 0)
    return Status::InvalidArgument("--aws-endpoint must start with http:// or https://, got '" +
                                   options.endpoint + "'");
  if (!options.skip_signature &&
      (options.access_key_id.empty() || options.secret_access_key.empty()))
    return Status::InvalidArgument(
        "--object-store s3 needs --aws-access-key-id and --aws-secret-access-key (or "
        "AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY), or --aws-skip-signature for a public bucket");
  if (options.connection_limit < 1) options.connection_limit = 1;
  if (options.multipart_part_bytes < (5 << 20)) {
    // S3's smallest part is 5 MiB; a smaller size is only for tests against stores that allow it.
    if (const char* test = std::getenv("RIFFLE_S3_PART_BYTES"); !test)
      options.multipart_part_bytes = 5 << 20;
  }
  if (const char* test = std::getenv("RIFFLE_S3_PART_BYTES"))
    options.multipart_part_bytes = std::max<size_t>(1024, std::strtoull(test, nullptr, 10));
  auto store = std::make_unique<S3Store>(std::move(options));
  RIFFLE_RETURN_IF_ERROR(store->Check());
  return std::unique_ptr<ObjectStore>(std::move(store));
}

}  // namespace riffle::objstore
