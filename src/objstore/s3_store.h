// An S3-compatible object store (AWS S3, Ceph RADOS Gateway, MinIO, s3rver): the same keys as
// the file store, as objects of one bucket.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "objstore/object_store.h"

namespace riffle::objstore {

// serve's --aws-* and --object-store-* flags (and their AWS_* environment variables).
struct S3Options {
  std::string bucket;
  std::string access_key_id, secret_access_key, session_token;
  std::string region = "us-east-1";
  // Empty: AWS (https://{bucket}.s3.{region}.amazonaws.com); else path-style {endpoint}/{bucket}.
  std::string endpoint;
  bool allow_http = false;      // an http:// endpoint is refused unless this is set
  bool skip_signature = false;  // anonymous requests (public buckets)
  int connection_limit = 16;    // connections kept open to the store at most
  int max_retries = 10;         // a failed request is tried again at most this often ...
  std::chrono::milliseconds retry_timeout{180'000};   // ... and for at most this long
  std::chrono::milliseconds request_timeout{30'000};  // one attempt
  // Objects larger than this are uploaded in parts of this size (multipart upload).
  size_t multipart_part_bytes = 8 << 20;
};

// Checks the options and that the bucket answers (so a wrong endpoint, key or bucket stops the
// server at start with the store's own error).
Result<std::unique_ptr<ObjectStore>> NewS3Store(S3Options options);

}  // namespace riffle::objstore
