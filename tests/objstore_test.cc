#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "objstore/local_files.h"

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

}  // namespace
}  // namespace riffle::objstore
