#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "objstore/local_files.h"
#include "objstore/s3_client.h"
#include "objstore/s3_store.h"

namespace riffle::objstore {
namespace {

namespace fs = std::filesystem;

TEST(LocalFiles, FileStoreObjectsAreTheFilesThemselves) {
  fs::path root = fs::temp_directory_path() / ("riffle-objstore-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  auto store = NewFileStore(root.string());
  auto files = NewLocalFiles(store.get());
  ASSERT_NE(files, nullptr);
  auto staged = files->Stage("node/dbs/1/2/f.parquet");
  ASSERT_TRUE(staged.ok()) << staged.status().message();
  std::ofstream(*staged) << "PAR1 data";
  auto size = files->Commit("node/dbs/1/2/f.parquet");
  ASSERT_TRUE(size.ok()) << size.status().message();
  EXPECT_EQ(*size, 9);
  EXPECT_EQ(*files->PathFor("node/dbs/1/2/f.parquet"), *staged);
  auto listed = store->List("node/dbs/");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, std::vector<std::string>{"node/dbs/1/2/f.parquet"});
  ASSERT_TRUE(files->Remove("node/dbs/1/2/f.parquet").ok());
  EXPECT_FALSE(fs::exists(*staged));
  // A staged file that is never committed leaves nothing behind.
  auto abandoned = files->Stage("node/dbs/1/2/g.parquet");
  std::ofstream(*abandoned) << "x";
  files->Discard("node/dbs/1/2/g.parquet");
  EXPECT_FALSE(fs::exists(*abandoned));
  EXPECT_FALSE(files->Commit("node/dbs/1/2/g.parquet").ok());
  fs::remove_all(root);
}

// Listing while objects are written (each a temporary file renamed into place) must neither
// throw nor list the temporary files: a file that vanishes mid-walk once ended the server.
TEST(FileStore, ListingWhileFilesAreWrittenNeverFails) {
  fs::path root =
      fs::temp_directory_path() / ("riffle-objstore-list-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  auto store = NewFileStore(root.string());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i)
      (void)store->Put("node/wal/" + std::to_string(i % 50) + ".wal", "data");
  });
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  size_t listings = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto keys = store->List("node/wal/");
    ASSERT_TRUE(keys.ok()) << keys.status().message();
    for (const auto& k : *keys) ASSERT_EQ(k.find(".tmp."), std::string::npos) << k;
    ++listings;
  }
  stop = true;
  writer.join();
  EXPECT_GT(listings, 0u);
  fs::remove_all(root);
}

TEST(LocalFiles, TheMemoryStoreHasNone) {
  auto store = NewMemoryStore();
  EXPECT_EQ(NewLocalFiles(store.get()), nullptr);
}

// A remote store's objects are local copies: uploaded at Commit, downloaded when pinned,
// forgotten without touching the object, removed with it.
TEST(LocalFiles, RemoteObjectsAreCachedCopies) {
  fs::path cache = fs::temp_directory_path() / ("riffle-cache-" + std::to_string(::getpid()));
  fs::remove_all(cache);
  auto store = NewMemoryStore();
  auto files = NewLocalFiles(store.get(), {cache.string()});
  ASSERT_NE(files, nullptr);
  auto staged = files->Stage("n/dbs/1/2/a.parquet");
  ASSERT_TRUE(staged.ok());
  std::ofstream(*staged) << "PAR1 abc";
  ASSERT_TRUE(files->Commit("n/dbs/1/2/a.parquet").ok());
  EXPECT_EQ(*store->Get("n/dbs/1/2/a.parquet"), "PAR1 abc");
  files->Forget("n/dbs/1/2/a.parquet");
  EXPECT_FALSE(fs::exists(*staged));
  EXPECT_TRUE(store->Get("n/dbs/1/2/a.parquet").ok());
  auto path = files->PathFor("n/dbs/1/2/a.parquet");
  ASSERT_TRUE(path.ok()) << path.status().message();
  EXPECT_FALSE(fs::exists(*path));  // a path, not a download
  {
    auto pinned = files->Pin({"n/dbs/1/2/a.parquet"});  // downloaded again
    ASSERT_TRUE(pinned.ok()) << pinned.status().message();
    std::ifstream in(*path);
    std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(contents, "PAR1 abc");
  }
  EXPECT_FALSE(files->Pin({"n/dbs/1/2/missing.parquet"}).ok());
  ASSERT_TRUE(files->Remove("n/dbs/1/2/a.parquet").ok());
  EXPECT_FALSE(store->Get("n/dbs/1/2/a.parquet").ok());
  EXPECT_FALSE(fs::exists(*path));
  EXPECT_EQ(files->Stats()->bytes, 0);
  fs::remove_all(cache);
}

// Past the limit the least recently used unpinned copies go; pinned ones stay even when that
// leaves the cache over its limit, and are evicted once released.
TEST(LocalFiles, TheCacheEvictsLeastRecentlyUsedUnpinnedCopies) {
  fs::path cache = fs::temp_directory_path() / ("riffle-lru-" + std::to_string(::getpid()));
  fs::remove_all(cache);
  auto store = NewMemoryStore();
  auto files = NewLocalFiles(store.get(), {cache.string(), 250, 0.0});
  auto put = [&](const std::string& key) {
    auto staged = files->Stage(key);
    ASSERT_TRUE(staged.ok());
    std::ofstream(*staged) << std::string(100, 'x');
    ASSERT_TRUE(files->Commit(key).ok());
  };
  auto here = [&](const std::string& key) { return fs::exists(*files->PathFor(key)); };
  put("a");
  put("b");
  EXPECT_TRUE(here("a") && here("b"));
  { auto touch = files->Pin({"a"}); }  // a is now newer than b
  put("c");                             // 300 > 250: b goes
  EXPECT_TRUE(here("a"));
  EXPECT_FALSE(here("b"));
  EXPECT_TRUE(here("c"));
  {
    auto pinned = files->Pin({"a", "b", "c"});  // b comes back; all pinned, 300 bytes
    ASSERT_TRUE(pinned.ok());
    EXPECT_TRUE(here("a") && here("b") && here("c"));
    EXPECT_EQ(files->Stats()->bytes, 300);
  }
  EXPECT_EQ(files->Stats()->bytes, 200);  // released: the least recently used went
  EXPECT_EQ(files->Stats()->evictions, 2u);
  EXPECT_EQ(files->Stats()->misses, 1u);
  // A restarted node counts the copies it finds, and drops half-downloaded ones.
  std::ofstream(cache / "d.part.123") << "half";
  auto reopened = NewLocalFiles(store.get(), {cache.string(), 1000, 0.0});
  EXPECT_EQ(reopened->Stats()->bytes, 200);
  EXPECT_FALSE(fs::exists(cache / "d.part.123"));
  fs::remove_all(cache);
}

TEST(S3, XmlValuesAreFoundInOrderAndDecoded) {
  std::string xml =
      "<ListBucketResult><IsTruncated>true</IsTruncated>"
      "<Contents><Key>a/b&amp;c</Key><Size>1</Size></Contents>"
      "<Contents><Key>a/&lt;d&gt;&#39;</Key></Contents>"
      "<NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>";
  size_t next = 0;
  EXPECT_EQ(XmlValue(xml, "Key", 0, &next), "a/b&c");
  EXPECT_EQ(XmlValue(xml, "Key", next, &next), "a/<d>'");
  EXPECT_EQ(XmlValue(xml, "Key", next, &next), "");
  EXPECT_EQ(next, std::string::npos);
  EXPECT_EQ(XmlValue(xml, "IsTruncated"), "true");
  EXPECT_EQ(XmlValue(xml, "NextContinuationToken"), "tok+/=");
  EXPECT_EQ(XmlValue("<a>unclosed", "a"), "");
}

TEST(S3, UriEncodingIsSigV4s) {
  EXPECT_EQ(UriEncode("node0/wal/00000000001.wal", true), "node0/wal/00000000001.wal");
  EXPECT_EQ(UriEncode("a b+c=/~_-.", true), "a%20b%2Bc%3D/~_-.");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(UriEncode("\xc3\xa9", false), "%C3%A9");
}

TEST(S3, ErrorTextNamesCodeAndMessage) {
  S3Response r{503, "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>", ""};
  EXPECT_EQ(S3ErrorText(r), "HTTP 503 SlowDown: Please reduce your request rate.");
  EXPECT_EQ(S3ErrorText({404, "", ""}), "HTTP 404");
}

TEST(S3, BadOptionsAreRefusedBeforeAnyRequest) {
  S3Options o;
  EXPECT_NE(NewS3Store(o).status().message().find("--bucket"), std::string::npos);
  o.bucket = "b";
  o.endpoint = "http://127.0.0.1:1";
  EXPECT_NE(NewS3Store(o).status().message().find("--aws-allow-http"), std::string::npos);
  o.allow_http = true;
  EXPECT_NE(NewS3Store(o).status().message().find("--aws-access-key-id"), std::string::npos);
  o.endpoint = "ftp://x";
  o.access_key_id = o.secret_access_key = "k";
  EXPECT_NE(NewS3Store(o).status().message().find("http:// or https://"), std::string::npos);
}

// Nothing listens on the endpoint: the start-up check gives up after the retries and says so.
TEST(S3, AnUnreachableEndpointFailsAfterItsRetries) {
  S3Options o;
  o.bucket = "b";
  o.endpoint = "http://127.0.0.1:1";
  o.allow_http = true;
  o.access_key_id = o.secret_access_key = "k";
  o.max_retries = 2;
  o.retry_timeout = std::chrono::milliseconds(5000);
  auto store = NewS3Store(o);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("gave up after 3 attempts"), std::string::npos) << store.status().message();
}

}  // namespace
}  // namespace riffle::objstore
