// System tables read straight from the catalog: system.influxdb_schema (InfluxDB 3.6+) of every
// database, and _internal's system.databases and system.tables (retention periods).
#include <algorithm>

#include "query/query.h"

namespace riffle::query {
namespace {

const char* KindOf(catalog::ColumnType type) {
  switch (type) {
    case catalog::ColumnType::kTime:
      return "time";
    case catalog::ColumnType::kTag:
      return "tag";
    case catalog::ColumnType::kBool:
      return "boolean";
    case catalog::ColumnType::kInt64:
      return "integer";
    case catalog::ColumnType::kUInt64:
      return "uinteger";
    case catalog::ColumnType::kFloat64:
      return "float";
    case catalog::ColumnType::kString:
      return "string";
  }
  return "string";
}

Value NullableInt(std::optional<int64_t> v) { return v ? Value(*v) : Value(); }

}  // namespace

VirtualTable InfluxdbSchemaTable(const catalog::Database& db) {
  using CT = catalog::ColumnType;
  VirtualTable out{"influxdb_schema",
                   {{"measurement", CT::kString}, {"key", CT::kString}, {"data_type", CT::kString}},
                   {}};
  for (const auto& [name, table] : db.tables) {
    std::vector<const catalog::Column*> columns;
    for (const auto& c : table->columns) columns.push_back(&c);
    std::sort(columns.begin(), columns.end(), [](auto* a, auto* b) { return a->name < b->name; });
    for (const auto* c : columns) out.rows.push_back({name, c->name, std::string(KindOf(c->type))});
  }
  return out;
}

VirtualTable InternalDatabasesTable(const catalog::CatalogState& state) {
  using CT = catalog::ColumnType;
  VirtualTable out{
      "databases",
      {{"database_name", CT::kString}, {"retention_period_ns", CT::kInt64}, {"deleted", CT::kBool}},
      {}};
  for (const auto& [name, db] : state.databases) {
    if (name == "_internal") continue;
    out.rows.push_back({name, NullableInt(db->retention_ns), db->deleted});
  }
  return out;
}

VirtualTable InternalTablesTable(const catalog::CatalogState& state) {
  using CT = catalog::ColumnType;
  VirtualTable out{"tables",
                   {{"database_name", CT::kString},
                    {"table_name", CT::kString},
                    {"retention_period_ns", CT::kInt64},
                    {"effective_retention_period_ns", CT::kInt64}},
                   {}};
  for (const auto& [name, db] : state.databases) {
    if (name == "_internal" || db->deleted) continue;
    for (const auto& [tname, table] : db->tables)
      out.rows.push_back({name, tname, NullableInt(table->retention_ns),
                          NullableInt(catalog::EffectiveRetention(*db, *table))});
  }
  return out;
}

}  // namespace riffle::query
