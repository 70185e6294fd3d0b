#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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

TEST(LocalFiles, TheMemoryStoreHasNone) {
  auto store = NewMemoryStore();
  EXPECT_EQ(NewLocalFiles(store.get()), nullptr);
}

}  // namespace
}  // namespace riffle::objstore
