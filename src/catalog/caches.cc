// Cache definitions in the catalog: last value caches and distinct value caches, with the
// defaults and checks of InfluxDB 3 (COMPAT.md §6.5).
#include "catalog/catalog.h"

namespace riffle::catalog {

std::shared_ptr<Database> MutableDb(CatalogState& s, const std::string& name);  // catalog.cc

namespace {

std::string Joined(const std::vector<std::string>& names, const char* sep) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : sep) + n;
  return out;
}

const Table* TableOf(const CatalogState& s, const std::string& db_name, const std::string& table,
                     Status* st) {
  const Database* db = s.FindDatabase(db_name);
  if (!db) {
    *st = Status::NotFound("database not found: " + db_name);
    return nullptr;
  }
  const Table* t = db->FindTable(table);
  if (!t) *st = Status::NotFound("table '" + table + "' not found in database '" + db_name + "'");
  return t;
}

}  // namespace

Result<LastCache> Catalog::CreateLastCache(const std::string& db_name, LastCache spec) {
  if (spec.count < 1 || spec.count > 10)
    return Status::InvalidArgument("invalid count " + std::to_string(spec.count) +
                                   " for a last cache: expected 1 to 10");
  if (spec.ttl_seconds == 0)
    return Status::InvalidArgument("invalid ttl 0 for a last cache: expected seconds > 0");
  LastCache stored;
  Status st = Mutate([&](CatalogState& s) -> Status {
    Status found;
    const Table* t = TableOf(s, db_name, spec.table, &found);
    if (!t) return found;
    LastCache c = spec;
    if (c.key_columns.empty())  // the series key: the table's tags
      for (const auto& col : t->columns)
        if (col.type == ColumnType::kTag) c.key_columns.push_back(col.name);
    for (const auto& k : c.key_columns) {
      const Column* col = t->Find(k);
      if (!col)
        return Status::InvalidArgument("key column '" + k + "' not found in table '" + c.table +
                                       "'");
      if (col->type == ColumnType::kFloat64 || col->type == ColumnType::kTime)
        return Status::InvalidArgument(
            "key column '" + k +
            "' cannot key a last cache: expected a tag, string, integer or boolean column");
    }
    for (const auto& v : c.value_columns) {
      if (!t->Find(v))
        return Status::InvalidArgument("value column '" + v + "' not found in table '" + c.table +
                                       "'");
      for (const auto& k : c.key_columns)
        if (k == v)
          return Status::InvalidArgument("column '" + v +
                                         "' cannot be both a key and a value column");
    }
    if (c.name.empty()) c.name = c.table + "_" + Joined(c.key_columns, "_") + "_last_cache";
    const Database* db = s.FindDatabase(db_name);
    if (db->last_caches.count(c.name))
      return Status::AlreadyExists("a last cache named '" + c.name +
                                   "' already exists in database '" + db_name + "'");
    MutableDb(s, db_name)->last_caches[c.name] = c;
    stored = c;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return stored;
}

Status Catalog::DeleteLastCache(const std::string& db_name, const std::string& table,
                                const std::string& name) {
  return Mutate([&](CatalogState& s) -> Status {
    const Database* db = s.FindDatabase(db_name);
    if (!db) return Status::NotFound("database not found: " + db_name);
    auto it = db->last_caches.find(name);
    if (it == db->last_caches.end() || (!table.empty() && it->second.table != table))
      return Status::NotFound("last cache '" + name + "' not found on table '" + table + "'");
    MutableDb(s, db_name)->last_caches.erase(name);
    return Status::Ok();
  });
}

Result<DistinctCache> Catalog::CreateDistinctCache(const std::string& db_name, DistinctCache spec) {
  if (spec.columns.empty())
    return Status::InvalidArgument(
        "a distinct cache needs at least one column: expected tag or string columns");
  if (spec.max_cardinality == 0)
    return Status::InvalidArgument("invalid max_cardinality 0: expected > 0");
  if (spec.max_age_seconds == 0)
    return Status::InvalidArgument("invalid max_age 0: expected seconds > 0");
  DistinctCache stored;
  Status st = Mutate([&](CatalogState& s) -> Status {
    Status found;
    const Table* t = TableOf(s, db_name, spec.table, &found);
    if (!t) return found;
    DistinctCache c = spec;
    for (const auto& name : c.columns) {
      const Column* col = t->Find(name);
      if (!col)
        return Status::InvalidArgument("column '" + name + "' not found in table '" + c.table +
                                       "'");
      if (col->type != ColumnType::kTag && col->type != ColumnType::kString)
        return Status::InvalidArgument(
            "column '" + name + "' cannot be in a distinct cache: expected a tag or string column");
    }
    if (c.name.empty()) c.name = c.table + "_" + Joined(c.columns, "_") + "_distinct_cache";
    const Database* db = s.FindDatabase(db_name);
    if (db->distinct_caches.count(c.name))
      return Status::AlreadyExists("a distinct cache named '" + c.name +
                                   "' already exists in database '" + db_name + "'");
    MutableDb(s, db_name)->distinct_caches[c.name] = c;
    stored = c;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return stored;
}

Status Catalog::DeleteDistinctCache(const std::string& db_name, const std::string& table,
                                    const std::string& name) {
  return Mutate([&](CatalogState& s) -> Status {
    const Database* db = s.FindDatabase(db_name);
    if (!db) return Status::NotFound("database not found: " + db_name);
    auto it = db->distinct_caches.find(name);
    if (it == db->distinct_caches.end() || (!table.empty() && it->second.table != table))
      return Status::NotFound("distinct cache '" + name + "' not found on table '" + table + "'");
    MutableDb(s, db_name)->distinct_caches.erase(name);
    return Status::Ok();
  });
}

}  // namespace riffle::catalog
