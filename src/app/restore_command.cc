// influxdb3 create restore: copies a backup back into a data dir or bucket that holds no data
// yet, before `serve` starts on it. (InfluxDB 3 Enterprise restores in place on a running
// cluster and then asks for a restart; restoring into an empty store first is the same result
// without a window in which the running server and the restored files disagree.)
#include <iostream>
#include <memory>

#include "app/serve.h"
#include "backup/backup.h"
#include "objstore/object_store.h"
#include "objstore/s3_store.h"

namespace riffle::app {

namespace {

struct RestoreArgs {
  std::string backup, object_store = "file", data_dir, from_data_dir, from_bucket, node_id;
  objstore::S3Options s3;
};

int Fail(const std::string& message) {
  std::cerr << "Error: " << message << "\n";
  return 1;
}

Result<std::unique_ptr<objstore::ObjectStore>> S3(objstore::S3Options options,
                                                  const std::string& bucket) {
  options.bucket = bucket;
  return objstore::NewS3Store(std::move(options));
}

int Restore(const RestoreArgs& a) {
  std::unique_ptr<objstore::ObjectStore> to, from;
  if (a.object_store == "file") {
    if (a.data_dir.empty()) return Fail("--data-dir is required with --object-store file");
    to = objstore::NewFileStore(a.data_dir);
  } else {
    if (a.s3.bucket.empty()) return Fail("--bucket is required with --object-store s3");
    auto opened = S3(a.s3, a.s3.bucket);
    if (!opened.ok())
      return Fail("cannot open bucket " + a.s3.bucket + ": " + opened.status().message());
    to = std::move(opened).value();
  }
  // Where the backup is: --from-data-dir, --from-bucket, else the target store itself.
  if (!a.from_data_dir.empty()) {
    from = objstore::NewFileStore(a.from_data_dir);
  } else if (!a.from_bucket.empty()) {
    auto opened = S3(a.s3, a.from_bucket);
    if (!opened.ok())
      return Fail("cannot open bucket " + a.from_bucket + ": " + opened.status().message());
    from = std::move(opened).value();
  }
  auto restored =
      backup::Restore(from ? from.get() : to.get(), to.get(), a.node_id, a.node_id, a.backup);
  if (!restored.ok()) return Fail(restored.status().message());
  int64_t bytes = 0;
  for (const auto& o : restored->objects) bytes += o.size;
  std::cout << "Restored backup \"" << a.backup << "\" into "
            << (a.object_store == "file" ? a.data_dir : "bucket " + a.s3.bucket) << ": "
            << restored->objects.size() << " objects, " << bytes << " bytes, WAL up to file "
            << restored->wal_sequence << ". Start influxdb3 serve --node-id " << a.node_id
            << " on it.\n";
  return 0;
}

}  // namespace

void RegisterRestoreCommand(CLI::App& app, std::function<int()>* action) {
  auto a = std::make_shared<RestoreArgs>();
  CLI::App* restore = app.get_subcommand("create")->add_subcommand(
      "restore", "Restore a backup into an empty data dir or bucket, then start serve on it");
  restore->add_option("--backup", a->backup, "the backup to restore (influxdb3 show backups)")
      ->required();
  restore->add_option("--node-id", a->node_id, "the node whose backup it is")
      ->required()
      ->envname("INFLUXDB3_NODE_IDENTIFIER_PREFIX");
  restore->add_option("--object-store", a->object_store, "where to restore into: file or s3")
      ->check(CLI::IsMember({"file", "s3"}))
      ->envname("INFLUXDB3_OBJECT_STORE");
  restore
      ->add_option("--data-dir", a->data_dir,
                   "file: the data dir to restore into (it must hold no data yet)")
      ->envname("INFLUXDB3_DB_DIR");
  restore
      ->add_option("--bucket", a->s3.bucket,
                   "s3: the bucket to restore into (it must hold no data yet)")
      ->envname("INFLUXDB3_BUCKET");
  restore->add_option("--aws-access-key-id", a->s3.access_key_id, "S3 access key")
      ->envname("AWS_ACCESS_KEY_ID");
  restore->add_option("--aws-secret-access-key", a->s3.secret_access_key, "S3 secret key")
      ->envname("AWS_SECRET_ACCESS_KEY");
  restore->add_option("--aws-session-token", a->s3.session_token, "S3 session token")
      ->envname("AWS_SESSION_TOKEN");
  restore->add_option("--aws-default-region", a->s3.region, "S3 region (default us-east-1)")
      ->envname("AWS_DEFAULT_REGION");
  restore->add_option("--aws-endpoint", a->s3.endpoint, "S3-compatible endpoint URL")
      ->envname("AWS_ENDPOINT");
  restore->add_flag("--aws-allow-http", a->s3.allow_http, "allow a plain http --aws-endpoint")
      ->envname("AWS_ALLOW_HTTP");
  restore->add_option("--from-data-dir", a->from_data_dir,
                      "the data dir that holds the backup (default: the target)");
  restore->add_option(
      "--from-bucket", a->from_bucket,
      "the bucket that holds the backup (same endpoint and credentials; default: the target)");
  restore->callback([a, action] { *action = [a] { return Restore(*a); }; });
}

}  // namespace riffle::app
