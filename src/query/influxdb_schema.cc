// system.influxdb_schema (InfluxDB 3.6+): every column of every table of the database, with
// its InfluxDB kind.
#include <algorithm>

#include "query/query.h"

namespace riffle::query {
namespace {

const char* KindOf(catalog::ColumnType type) {
  switch (type) {
    case catalog::ColumnType::kTime: return "time";
    case catalog::ColumnType::kTag: return "tag";
    case catalog::ColumnType::kBool: return "boolean";
    case catalog::ColumnType::kInt64: return "integer";
    case catalog::ColumnType::kUInt64: return "uinteger";
    case catalog::ColumnType::kFloat64: return "float";
    case catalog::ColumnType::kString: return "string";
  }
  return "string";
}

}  // namespace

VirtualTable InfluxdbSchemaTable(const catalog::Database& db) {
  using CT = catalog::ColumnType;
  VirtualTable out{"influxdb_schema", {{"measurement", CT::kString}, {"key", CT::kString}, {"data_type", CT::kString}}, {}};
  for (const auto& [name, table] : db.tables) {
    std::vector<const catalog::Column*> columns;
    for (const auto& c : table->columns) columns.push_back(&c);
    std::sort(columns.begin(), columns.end(), [](auto* a, auto* b) { return a->name < b->name; });
    for (const auto* c : columns) out.rows.push_back({name, c->name, std::string(KindOf(c->type))});
  }
  return out;
}

}  // namespace riffle::query
