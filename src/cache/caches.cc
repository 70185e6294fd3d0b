// The values of last value and distinct value caches: kept per (database, cache name), added to
// by every WAL flush, read whole by a query (a few thousand rows at most by design).
#include <algorithm>

#include "cache/cache.h"
#include "common/clock.h"
#include "duck/duck.h"
#include "lineproto/line_protocol.h"

namespace riffle::cache {
namespace {

using catalog::ColumnType;
using query::Value;

// A value as part of a map key (type-tagged, length-prefixed).
std::string Encode(const Value& v) {
  std::string body;
  char tag = 'n';
  if (auto* s = std::get_if<std::string>(&v))
    tag = 's', body = *s;
  else if (auto* i = std::get_if<int64_t>(&v))
    tag = 'i', body = std::to_string(*i);
  else if (auto* u = std::get_if<uint64_t>(&v))
    tag = 'u', body = std::to_string(*u);
  else if (auto* b = std::get_if<bool>(&v))
    tag = 'b', body = *b ? "1" : "0";
  else if (auto* d = std::get_if<double>(&v))
    tag = 'f', body = std::to_string(*d);
  return tag + std::to_string(body.size()) + ":" + body;
}

Value FieldValue(const lineproto::Field& f) {
  switch (f.type) {
    case lineproto::FieldType::kFloat:
      return f.f;
    case lineproto::FieldType::kInteger:
      return f.i;
    case lineproto::FieldType::kUInteger:
      return f.u;
    case lineproto::FieldType::kString:
      return std::string(f.s);
    case lineproto::FieldType::kBoolean:
      return f.b;
  }
  return std::monostate{};
}

// The value of column `name` in a line: a tag, else a field, else NULL.
Value ColumnValue(const lineproto::ParsedBatch& batch, const lineproto::Line& line,
                  std::string_view name) {
  const auto* tags = batch.tags_of(line);
  for (uint32_t t = 0; t < line.tag_count; ++t)
    if (tags[t].key == name) return std::string(tags[t].value);
  const auto* fields = batch.fields_of(line);
  for (uint32_t f = 0; f < line.field_count; ++f)
    if (fields[f].key == name) return FieldValue(fields[f]);
  return std::monostate{};
}

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string List(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out + "]";
}

// The value columns a last cache returns: its own list, or every non-key column; time last.
std::vector<const catalog::Column*> ValueColumns(const catalog::Table& t,
                                                 const catalog::LastCache& def) {
  std::vector<const catalog::Column*> out;
  for (const auto& c : t.columns) {
    if (c.type == ColumnType::kTime || Contains(def.key_columns, c.name)) continue;
    if (def.value_columns.empty() || Contains(def.value_columns, c.name)) out.push_back(&c);
  }
  if (const catalog::Column* time = t.Find("time")) out.push_back(time);
  return out;
}

template <typename Def>
Result<const Def*> Resolve(const std::map<std::string, Def>& defs, const char* kind,
                           const std::string& table, const std::string& name) {
  if (!name.empty()) {
    auto it = defs.find(name);
    if (it == defs.end() || it->second.table != table)
      return Status::NotFound(std::string(kind) + " cache '" + name + "' not found on table '" +
                              table + "'");
    return &it->second;
  }
  const Def* only = nullptr;
  std::vector<std::string> names;
  for (const auto& [n, d] : defs)
    if (d.table == table) {
      only = &d;
      names.push_back(n);
    }
  if (names.empty())
    return Status::NotFound(std::string("no ") + kind + " cache on table '" + table + "'");
  if (names.size() > 1)
    return Status::InvalidArgument("table '" + table + "' has several " + kind + " caches " +
                                   List(names) + ": name one as " + kind + "_cache('" + table +
                                   "', 'name')");
  return only;
}

}  // namespace

void Caches::AddLast(LastState& s, const catalog::LastCache& def, std::vector<Value> key,
                     LastRow row) {
  std::string encoded;
  for (const auto& v : key) encoded += Encode(v);
  LastEntry& e = s.entries[encoded];
  if (e.key.empty()) e.key = std::move(key);
  auto same = std::find_if(e.rows.begin(), e.rows.end(),
                           [&](const LastRow& r) { return r.time == row.time; });
  if (same != e.rows.end()) {  // the same point again: its newer values win, as in storage
    for (auto& [n, v] : row.values) {
      auto it = std::find_if(same->values.begin(), same->values.end(),
                             [&](const auto& p) { return p.first == n; });
      if (it != same->values.end())
        it->second = std::move(v);
      else
        same->values.emplace_back(n, std::move(v));
    }
    same->seen_ns = row.seen_ns;
    return;
  }
  auto at = std::find_if(e.rows.begin(), e.rows.end(),
                         [&](const LastRow& r) { return r.time < row.time; });
  if (at == e.rows.end() && e.rows.size() >= def.count) return;  // older than everything kept
  e.rows.insert(at, std::move(row));
  if (e.rows.size() > def.count) e.rows.resize(def.count);
}

void Caches::AddDistinct(DistinctState& s, const catalog::DistinctCache& def,
                         std::vector<std::string> values, int64_t now) {
  s.seen[std::move(values)] = now;
  if (s.seen.size() <= def.max_cardinality) return;
  auto oldest = std::min_element(s.seen.begin(), s.seen.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
  s.seen.erase(oldest);
}

void Caches::Apply(const catalog::CatalogState& state, const std::vector<wal::WriteOpPtr>& ops) {
  int64_t now = NowNanos();
  std::lock_guard lock(mu_);
  for (const auto& op : ops) {
    const catalog::Database* db = state.FindDatabase(op->db_name);
    if (!db || (db->last_caches.empty() && db->distinct_caches.empty())) continue;
    for (size_t i = 0; i < op->batch.lines.size(); ++i) {
      const auto& line = op->batch.lines[i];
      for (const auto& [name, def] : db->last_caches) {
        if (def.table != line.measurement) continue;
        std::vector<Value> key;
        for (const auto& k : def.key_columns) key.push_back(ColumnValue(op->batch, line, k));
        LastRow row{op->times[i], now, {}};
        const auto* tags = op->batch.tags_of(line);
        for (uint32_t t = 0; t < line.tag_count; ++t)
          if (!Contains(def.key_columns, tags[t].key) &&
              (def.value_columns.empty() || Contains(def.value_columns, tags[t].key)))
            row.values.emplace_back(std::string(tags[t].key), std::string(tags[t].value));
        const auto* fields = op->batch.fields_of(line);
        for (uint32_t f = 0; f < line.field_count; ++f)
          if (!Contains(def.key_columns, fields[f].key) &&
              (def.value_columns.empty() || Contains(def.value_columns, fields[f].key)))
            row.values.emplace_back(std::string(fields[f].key), FieldValue(fields[f]));
        AddLast(last_[{db->id, name}], def, std::move(key), std::move(row));
      }
      for (const auto& [name, def] : db->distinct_caches) {
        if (def.table != line.measurement) continue;
        std::vector<std::string> values;
        bool any = false;
        for (const auto& c : def.columns) {
          Value v = ColumnValue(op->batch, line, c);
          auto* s = std::get_if<std::string>(&v);
          any |= s != nullptr;
          values.push_back(s ? "\x01" + *s : std::string());
        }
        if (any) AddDistinct(distinct_[{db->id, name}], def, std::move(values), now);
      }
    }
  }
}

Status Caches::Refill(const catalog::CatalogState& state, query::QueryEngine& engine,
                      const std::string& db_name, const std::string& table) {
  const catalog::Database* db = state.FindDatabase(db_name);
  if (!db) return Status::Ok();
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, def] : db->last_caches)
      if (def.table == table) names.push_back(name), last_.erase({db->id, name});
    for (const auto& [name, def] : db->distinct_caches)
      if (def.table == table) names.push_back(name), distinct_.erase({db->id, name});
  }
  if (names.empty()) return Status::Ok();
  return Warm(state, engine, db_name, names);
}

Status Caches::Warm(const catalog::CatalogState& state, query::QueryEngine& engine,
                    const std::string& db_name, const std::vector<std::string>& names) {
  const catalog::Database* db = state.FindDatabase(db_name);
  if (!db) return Status::NotFound("database not found: " + db_name);
  auto wanted = [&](const std::string& n) { return names.empty() || Contains(names, n); };
  int64_t now = NowNanos();
  for (const auto& [name, def] : db->last_caches) {
    if (!wanted(name) || !db->FindTable(def.table)) continue;
    std::string keys;
    for (const auto& k : def.key_columns) keys += (keys.empty() ? "" : ", ") + duck::QuoteIdent(k);
    std::string sql = "SELECT * FROM " + duck::QuoteIdent(def.table) +
                      " WHERE time > now() - INTERVAL '" + std::to_string(def.ttl_seconds) +
                      " seconds' QUALIFY row_number() OVER (" +
                      (keys.empty() ? "" : "PARTITION BY " + keys + " ") +
                      "ORDER BY time DESC) <= " + std::to_string(def.count);
    RIFFLE_ASSIGN_OR_RETURN(query::QueryResult rows, engine.Query(state, db_name, sql, {}));
    std::lock_guard lock(mu_);
    LastState& s = last_[{db->id, name}];
    for (const auto& r : rows.rows) {
      std::vector<Value> key;
      for (const auto& k : def.key_columns) {
        auto at = std::find(rows.column_names.begin(), rows.column_names.end(), k);
        key.push_back(at == rows.column_names.end() ? Value() : r[at - rows.column_names.begin()]);
      }
      LastRow row{0, now, {}};
      for (size_t c = 0; c < rows.column_names.size(); ++c) {
        const std::string& col = rows.column_names[c];
        if (col == "time") {
          if (auto* t = std::get_if<query::Timestamp>(&r[c])) row.time = t->ns;
        } else if (!Contains(def.key_columns, col) &&
                   !std::holds_alternative<std::monostate>(r[c]) &&
                   (def.value_columns.empty() || Contains(def.value_columns, col))) {
          row.values.emplace_back(col, r[c]);
        }
      }
      AddLast(s, def, std::move(key), std::move(row));
    }
  }
  for (const auto& [name, def] : db->distinct_caches) {
    if (!wanted(name) || !db->FindTable(def.table)) continue;
    std::string cols;
    for (const auto& c : def.columns) cols += (cols.empty() ? "" : ", ") + duck::QuoteIdent(c);
    std::string sql = "SELECT DISTINCT " + cols + " FROM " + duck::QuoteIdent(def.table) +
                      " WHERE time > now() - INTERVAL '" + std::to_string(def.max_age_seconds) +
                      " seconds' LIMIT " + std::to_string(def.max_cardinality);
    RIFFLE_ASSIGN_OR_RETURN(query::QueryResult rows, engine.Query(state, db_name, sql, {}));
    std::lock_guard lock(mu_);
    DistinctState& s = distinct_[{db->id, name}];
    for (const auto& r : rows.rows) {
      std::vector<std::string> values;
      for (const auto& v : r) {
        auto* str = std::get_if<std::string>(&v);
        values.push_back(str ? "\x01" + *str : std::string());
      }
      AddDistinct(s, def, std::move(values), now);
    }
  }
  return Status::Ok();
}

Result<query::VirtualTable> Caches::Table(const catalog::CatalogState& state,
                                          const std::string& db_name, bool last,
                                          const std::string& table_name, const std::string& name) {
  const catalog::Database* db = state.FindDatabase(db_name);
  if (!db) return Status::NotFound("database not found: " + db_name);
  const catalog::Table* table = db->FindTable(table_name);
  if (!table)
    return Status::NotFound("table '" + table_name + "' not found in database '" + db_name + "'");
  query::VirtualTable out;
  int64_t now = NowNanos();
  std::lock_guard lock(mu_);
  if (last) {
    RIFFLE_ASSIGN_OR_RETURN(const catalog::LastCache* def,
                            Resolve(db->last_caches, "last", table_name, name));
    std::vector<const catalog::Column*> values = ValueColumns(*table, *def);
    for (const auto& k : def->key_columns) {
      const catalog::Column* c = table->Find(k);
      out.columns.emplace_back(k, c ? c->type : ColumnType::kString);
    }
    for (const auto* c : values) out.columns.emplace_back(c->name, c->type);
    int64_t oldest = now - static_cast<int64_t>(def->ttl_seconds) * 1'000'000'000;
    auto it = last_.find({db->id, def->name});
    if (it == last_.end()) return out;
    for (auto& [encoded, entry] : it->second.entries) {
      for (const auto& row : entry.rows) {
        if (row.seen_ns < oldest) continue;
        std::vector<Value> cells = entry.key;
        for (const auto* c : values) {
          if (c->type == ColumnType::kTime) {
            cells.push_back(query::Timestamp{row.time});
            continue;
          }
          auto v = std::find_if(row.values.begin(), row.values.end(),
                                [&](const auto& p) { return p.first == c->name; });
          cells.push_back(v == row.values.end() ? Value() : v->second);
        }
        out.rows.push_back(std::move(cells));
      }
    }
    return out;
  }
  RIFFLE_ASSIGN_OR_RETURN(const catalog::DistinctCache* def,
                          Resolve(db->distinct_caches, "distinct", table_name, name));
  for (const auto& c : def->columns) out.columns.emplace_back(c, ColumnType::kString);
  int64_t oldest = now - static_cast<int64_t>(def->max_age_seconds) * 1'000'000'000;
  auto it = distinct_.find({db->id, def->name});
  if (it == distinct_.end()) return out;
  for (const auto& [values, seen] : it->second.seen) {
    if (seen < oldest) continue;
    std::vector<Value> cells;
    for (const auto& v : values) cells.push_back(v.empty() ? Value() : Value(v.substr(1)));
    out.rows.push_back(std::move(cells));
  }
  return out;
}

query::VirtualTable Caches::SystemTable(const catalog::CatalogState& state,
                                        const std::string& db_name, bool last) {
  query::VirtualTable out;
  const catalog::Database* db = state.FindDatabase(db_name);
  if (last) {
    out.columns = {{"table", ColumnType::kString},
                   {"name", ColumnType::kString},
                   {"key_column_names", ColumnType::kString},
                   {"value_column_names", ColumnType::kString},
                   {"count", ColumnType::kUInt64},
                   {"ttl", ColumnType::kUInt64}};
    if (db)
      for (const auto& [n, c] : db->last_caches) {
        std::vector<std::string> values = c.value_columns;
        if (const catalog::Table* t = db->FindTable(c.table); t && values.empty())
          for (const auto* col : ValueColumns(*t, c)) values.push_back(col->name);
        out.rows.push_back(
            {c.table, c.name, List(c.key_columns), List(values), c.count, c.ttl_seconds});
      }
    return out;
  }
  out.columns = {{"table", ColumnType::kString},
                 {"name", ColumnType::kString},
                 {"column_names", ColumnType::kString},
                 {"max_cardinality", ColumnType::kUInt64},
                 {"max_age_seconds", ColumnType::kUInt64}};
  if (db)
    for (const auto& [n, c] : db->distinct_caches)
      out.rows.push_back({c.table, c.name, List(c.columns), c.max_cardinality, c.max_age_seconds});
  return out;
}

void Caches::Prune(const catalog::CatalogState& state) {
  std::map<uint32_t, const catalog::Database*> by_id;
  for (const auto& [n, db] : state.databases) by_id[db->id] = db.get();
  std::lock_guard lock(mu_);
  std::erase_if(last_, [&](const auto& kv) {
    auto db = by_id.find(kv.first.first);
    return db == by_id.end() || !db->second->last_caches.count(kv.first.second);
  });
  std::erase_if(distinct_, [&](const auto& kv) {
    auto db = by_id.find(kv.first.first);
    return db == by_id.end() || !db->second->distinct_caches.count(kv.first.second);
  });
}

}  // namespace riffle::cache
