#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include "catalog/catalog_serde.h"

namespace riffle::catalog {
namespace {

TEST(DatabaseName, AcceptsAndRejectsLikeInfluxDb) {
  EXPECT_TRUE(ValidateDatabaseName("my_db-1").ok());
  EXPECT_TRUE(ValidateDatabaseName("db/rp").ok());
  EXPECT_EQ(ValidateDatabaseName("").message(), "db name cannot be empty");
  EXPECT_EQ(ValidateDatabaseName("_x").message(), "db name did not start with a number or letter");
  EXPECT_FALSE(ValidateDatabaseName("a b").ok());
  EXPECT_FALSE(ValidateDatabaseName("a/b/c").ok());
  EXPECT_FALSE(ValidateDatabaseName("ab/").ok());
  EXPECT_FALSE(ValidateDatabaseName("caf\xc3\xa9").ok());
}

class CatalogTest : public ::testing::Test {
 protected:
  std::unique_ptr<objstore::ObjectStore> store_ = objstore::NewMemoryStore();
};

TEST_F(CatalogTest, ColumnTypesAreFixedByTheFirstWrite) {
  Catalog c(store_.get(), "node0");
  ASSERT_TRUE(c.Load().ok());
  ASSERT_TRUE(c.EnsureDatabase("db").ok());
  ASSERT_TRUE(c.AddColumns("db", {{"cpu", "host", ColumnType::kTag}, {"cpu", "v", ColumnType::kFloat64}}).ok());
  Status conflict = c.AddColumns("db", {{"cpu", "v", ColumnType::kInt64}});
  EXPECT_EQ(conflict.code(), Code::kConflict);
  EXPECT_EQ(conflict.message(), "invalid column type for column 'v', expected float64, got int64");
  const Table* t = c.State()->FindDatabase("db")->FindTable("cpu");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->columns.size(), 3u);  // time, host, v
  EXPECT_EQ(t->Find("time")->type, ColumnType::kTime);
}

TEST_F(CatalogTest, SurvivesReloadIncludingTriggers) {
  {
    Catalog c(store_.get(), "node0");
    ASSERT_TRUE(c.Load().ok());
    ASSERT_TRUE(c.CreateDatabase("db", std::nullopt).ok());
    ASSERT_TRUE(c.AddColumns("db", {{"m", "f", ColumnType::kString}}).ok());
    Trigger t;
    t.name = "trig";
    t.database = "db";
    t.plugin_filename = "p.py";
    t.specification = "every:10s";
    t.arguments = std::map<std::string, std::string>{{"k", "v"}};
    ASSERT_TRUE(c.CreateTrigger(t).ok());
    ASSERT_TRUE(c.SetTriggerDisabled("db", "trig", true).ok());
  }
  Catalog reloaded(store_.get(), "node0");
  ASSERT_TRUE(reloaded.Load().ok());
  const Database* db = reloaded.State()->FindDatabase("db");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->FindTable("m")->Find("f")->type, ColumnType::kString);
  ASSERT_EQ(db->triggers.count("trig"), 1u);
  EXPECT_TRUE(db->triggers.at("trig").disabled);
  EXPECT_EQ(db->triggers.at("trig").arguments->at("k"), "v");
}

TEST_F(CatalogTest, TableRetentionReplacesTheDatabasesAndSurvivesReload) {
  {
    Catalog c(store_.get(), "node0");
    ASSERT_TRUE(c.Load().ok());
    ASSERT_TRUE(c.CreateDatabase("db", int64_t{1000}).ok());
    ASSERT_TRUE(c.AddColumns("db", {{"a", "v", ColumnType::kFloat64}, {"b", "v", ColumnType::kFloat64}}).ok());
    ASSERT_TRUE(c.SetTableRetention("db", "a", int64_t{10}).ok());
    EXPECT_EQ(c.SetTableRetention("db", "nope", int64_t{10}).code(), Code::kNotFound);
  }
  Catalog reloaded(store_.get(), "node0");
  ASSERT_TRUE(reloaded.Load().ok());
  const Database* db = reloaded.State()->FindDatabase("db");
  EXPECT_EQ(EffectiveRetention(*db, *db->FindTable("a")), std::optional<int64_t>(10));
  EXPECT_EQ(EffectiveRetention(*db, *db->FindTable("b")), std::optional<int64_t>(1000));
  ASSERT_TRUE(reloaded.SetTableRetention("db", "a", std::nullopt).ok());
  db = reloaded.State()->FindDatabase("db");
  EXPECT_EQ(EffectiveRetention(*db, *db->FindTable("a")), std::optional<int64_t>(1000));
}

TEST_F(CatalogTest, CorruptNewestVersionFallsBackToThePreviousOne) {
  {
    Catalog c(store_.get(), "node0");
    ASSERT_TRUE(c.Load().ok());
    ASSERT_TRUE(c.CreateDatabase("a", std::nullopt).ok());
    ASSERT_TRUE(c.CreateDatabase("b", std::nullopt).ok());
  }
  auto keys = store_->List("node0/catalog/");
  ASSERT_TRUE(keys.ok());
  ASSERT_TRUE(store_->Put(keys->back(), "riffle-catalog v1 crc32=00000000\n{garbage").ok());
  Catalog reloaded(store_.get(), "node0");
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_NE(reloaded.State()->FindDatabase("a"), nullptr);
  EXPECT_EQ(reloaded.State()->FindDatabase("b"), nullptr);
}

TEST_F(CatalogTest, SoftDeleteFreesTheName) {
  Catalog c(store_.get(), "node0");
  ASSERT_TRUE(c.Load().ok());
  ASSERT_TRUE(c.CreateDatabase("db", std::nullopt).ok());
  uint32_t old_id = c.State()->FindDatabase("db")->id;
  ASSERT_TRUE(c.DeleteDatabase("db").ok());
  EXPECT_EQ(c.State()->FindDatabase("db"), nullptr);
  EXPECT_EQ(c.DeleteDatabase("db").code(), Code::kNotFound);
  ASSERT_TRUE(c.EnsureDatabase("db").ok());
  EXPECT_NE(c.State()->FindDatabase("db")->id, old_id);
}

TEST_F(CatalogTest, DatabaseLimitIsEnforced) {
  Catalog c(store_.get(), "node0", Limits{2, 10, 10});
  ASSERT_TRUE(c.Load().ok());
  ASSERT_TRUE(c.CreateDatabase("a", std::nullopt).ok());
  ASSERT_TRUE(c.CreateDatabase("b", std::nullopt).ok());
  Status st = c.CreateDatabase("c", std::nullopt);
  EXPECT_EQ(st.code(), Code::kLimitExceeded);
  EXPECT_EQ(st.message(), "Adding a new database would exceed limit of 2 databases");
  EXPECT_EQ(c.CreateDatabase("a", std::nullopt).code(), Code::kAlreadyExists);
}

TEST(CatalogSerde, ChecksumDetectsCorruption) {
  CatalogState s;
  s.catalog_uuid = "u";
  std::string text = SerializeCatalog(s);
  EXPECT_TRUE(DeserializeCatalog(text).ok());
  text[text.size() - 2] ^= 1;
  EXPECT_FALSE(DeserializeCatalog(text).ok());
}

}  // namespace
}  // namespace riffle::catalog
