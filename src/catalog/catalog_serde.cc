#include "catalog/catalog_serde.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/checksummed.h"

namespace riffle::catalog {
namespace {

using nlohmann::json;
constexpr const char* kMagic = "riffle-catalog v1";

json TriggerToJson(const Trigger& t) {
  json j = {{"name", t.name},
            {"plugin_filename", t.plugin_filename},
            {"database", t.database},
            {"specification", t.specification},
            {"run_async", t.settings.run_async},
            {"error_behavior", t.settings.error_behavior},
            {"run_timeout_ns", t.settings.run_timeout_ns},
            {"max_retries", t.settings.max_retries},
            {"public", t.settings.public_endpoint},
            {"queue_size", t.settings.queue_size},
            {"disabled", t.disabled}};
  if (t.arguments) j["arguments"] = *t.arguments;
  return j;
}

Trigger TriggerFromJson(const json& j) {
  Trigger t;
  t.name = j.at("name");
  t.plugin_filename = j.at("plugin_filename");
  t.database = j.at("database");
  t.specification = j.at("specification");
  t.settings.run_async = j.at("run_async");
  t.settings.error_behavior = j.at("error_behavior");
  t.settings.run_timeout_ns = j.value("run_timeout_ns", int64_t{0});  // absent in older catalogs
  t.settings.max_retries = j.value("max_retries", 3);
  t.settings.public_endpoint = j.value("public", false);
  t.settings.queue_size = j.value("queue_size", int64_t{0});
  t.disabled = j.at("disabled");
  if (j.contains("arguments")) t.arguments = j["arguments"].get<std::map<std::string, std::string>>();
  return t;
}

json LastCacheToJson(const LastCache& c) {
  return {{"name", c.name},       {"table", c.table}, {"key_columns", c.key_columns},
          {"value_columns", c.value_columns}, {"count", c.count}, {"ttl_seconds", c.ttl_seconds}};
}

LastCache LastCacheFromJson(const json& j) {
  return {j.at("name"), j.at("table"), j.at("key_columns"), j.at("value_columns"), j.at("count"),
          j.at("ttl_seconds")};
}

json DistinctCacheToJson(const DistinctCache& c) {
  return {{"name", c.name},
          {"table", c.table},
          {"columns", c.columns},
          {"max_cardinality", c.max_cardinality},
          {"max_age_seconds", c.max_age_seconds}};
}

DistinctCache DistinctCacheFromJson(const json& j) {
  return {j.at("name"), j.at("table"), j.at("columns"), j.at("max_cardinality"), j.at("max_age_seconds")};
}

}  // namespace

std::string SerializeCatalog(const CatalogState& state) {
  json dbs = json::array();
  for (const auto& [name, db] : state.databases) {
    json tables = json::array();
    for (const auto& [tname, table] : db->tables) {
      json cols = json::array();
      for (const auto& c : table->columns)
        cols.push_back({{"id", c.id}, {"name", c.name}, {"type", ColumnTypeName(c.type)}});
      json tj = {{"id", table->id}, {"name", table->name}, {"columns", cols}};
      if (table->retention_ns) tj["retention_ns"] = *table->retention_ns;
      tables.push_back(std::move(tj));
    }
    json triggers = json::array();
    for (const auto& [tname, trig] : db->triggers) triggers.push_back(TriggerToJson(trig));
    json d = {{"id", db->id},         {"name", db->name},     {"deleted", db->deleted},
              {"tables", tables},     {"triggers", triggers}};
    if (db->retention_ns) d["retention_ns"] = *db->retention_ns;
    if (!db->last_caches.empty()) {
      d["last_caches"] = json::array();
      for (const auto& [n, c] : db->last_caches) d["last_caches"].push_back(LastCacheToJson(c));
    }
    if (!db->distinct_caches.empty()) {
      d["distinct_caches"] = json::array();
      for (const auto& [n, c] : db->distinct_caches) d["distinct_caches"].push_back(DistinctCacheToJson(c));
    }
    dbs.push_back(d);
  }
  json root = {{"version", state.version},
               {"uuid", state.catalog_uuid},
               {"next_db_id", state.next_db_id},
               {"next_table_id", state.next_table_id},
               {"next_column_id", state.next_column_id},
               {"databases", dbs}};
  return SealWithChecksum(kMagic, root.dump());
}

Result<CatalogState> DeserializeCatalog(const std::string& contents) {
  auto body = OpenChecksummed(kMagic, contents, "catalog file");
  if (!body.ok()) return body.status();
  try {
    json root = json::parse(*body);
    CatalogState state;
    state.version = root.at("version");
    state.catalog_uuid = root.at("uuid");
    state.next_db_id = root.at("next_db_id");
    state.next_table_id = root.at("next_table_id");
    state.next_column_id = root.at("next_column_id");
    for (const auto& d : root.at("databases")) {
      auto db = std::make_shared<Database>();
      db->id = d.at("id");
      db->name = d.at("name");
      db->deleted = d.at("deleted");
      if (d.contains("retention_ns")) db->retention_ns = d["retention_ns"].get<int64_t>();
      for (const auto& t : d.at("tables")) {
        auto table = std::make_shared<Table>();
        table->id = t.at("id");
        table->name = t.at("name");
        if (t.contains("retention_ns")) table->retention_ns = t["retention_ns"].get<int64_t>();
        for (const auto& c : t.at("columns")) {
          auto type = ColumnTypeFromName(c.at("type"));
          if (!type.ok()) return type.status();
          table->AddColumn(c.at("name"), *type, c.at("id"));
        }
        db->tables[table->name] = table;
      }
      for (const auto& tj : d.at("triggers")) {
        Trigger trig = TriggerFromJson(tj);
        db->triggers[trig.name] = std::move(trig);
      }
      if (d.contains("last_caches"))
        for (const auto& cj : d["last_caches"]) {
          LastCache c = LastCacheFromJson(cj);
          db->last_caches[c.name] = std::move(c);
        }
      if (d.contains("distinct_caches"))
        for (const auto& cj : d["distinct_caches"]) {
          DistinctCache c = DistinctCacheFromJson(cj);
          db->distinct_caches[c.name] = std::move(c);
        }
      state.databases[db->name] = db;
    }
    return state;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("catalog file is not valid: ") + e.what());
  }
}

}  // namespace riffle::catalog
