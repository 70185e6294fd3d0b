#include "catalog/catalog.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <random>

#include "catalog/catalog_serde.h"
#include "common/clock.h"
#include "common/log.h"

namespace riffle::catalog {

const char* ColumnTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kTag: return "tag";
    case ColumnType::kInt64: return "int64";
    case ColumnType::kUInt64: return "uint64";
    case ColumnType::kFloat64: return "float64";
    case ColumnType::kString: return "utf8";
    case ColumnType::kBool: return "bool";
    case ColumnType::kTime: return "time";
  }
  return "unknown";
}

const char* InfluxDataTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kTag: return "Dictionary(Int32, Utf8)";
    case ColumnType::kInt64: return "Int64";
    case ColumnType::kUInt64: return "UInt64";
    case ColumnType::kFloat64: return "Float64";
    case ColumnType::kString: return "Utf8";
    case ColumnType::kBool: return "Boolean";
    case ColumnType::kTime: return "Timestamp(Nanosecond, None)";
  }
  return "unknown";
}

Result<ColumnType> ColumnTypeFromName(const std::string& name) {
  static const std::pair<const char*, ColumnType> kNames[] = {
      {"tag", ColumnType::kTag},       {"int64", ColumnType::kInt64},
      {"uint64", ColumnType::kUInt64}, {"float64", ColumnType::kFloat64},
      {"utf8", ColumnType::kString},   {"string", ColumnType::kString},
      {"bool", ColumnType::kBool},     {"time", ColumnType::kTime}};
  for (const auto& [n, t] : kNames)
    if (name == n) return t;
  return Status::InvalidArgument("invalid column type '" + name +
                                 "': expected one of int64, uint64, float64, utf8, bool");
}

bool SameIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string CaseCollisionMessage(const char* what, std::string_view name, std::string_view existing) {
  return std::string(what) + " '" + std::string(name) + "' differs only in letter case from the existing " + what +
         " '" + std::string(existing) + "': Riffle's SQL engine compares names case-insensitively, use '" +
         std::string(existing) + "'";
}

const Column* Table::FindOtherCase(std::string_view name) const {
  for (const auto& c : columns)
    if (c.name != name && SameIgnoringCase(c.name, name)) return &c;
  return nullptr;
}

const Table* Database::FindTableOtherCase(std::string_view name) const {
  for (const auto& [tname, t] : tables)
    if (tname != name && SameIgnoringCase(tname, name)) return t.get();
  return nullptr;
}

const Column* Table::Find(std::string_view name) const {
  auto it = index.find(name);
  return it == index.end() ? nullptr : &columns[it->second];
}

void Table::AddColumn(std::string name, ColumnType type, uint32_t id) {
  index[name] = columns.size();
  columns.push_back(Column{id, std::move(name), type});
}

const Table* Database::FindTable(std::string_view name) const {
  auto it = tables.find(name);
  return it == tables.end() ? nullptr : it->second.get();
}

const Table* Database::FindTableById(uint32_t table_id) const {
  for (const auto& [name, t] : tables)
    if (t->id == table_id) return t.get();
  return nullptr;
}

const Database* CatalogState::FindDatabase(std::string_view name) const {
  auto it = databases.find(name);
  if (it == databases.end() || it->second->deleted) return nullptr;
  return it->second.get();
}

const Database* CatalogState::FindDatabaseById(uint32_t db_id) const {
  for (const auto& [name, db] : databases)
    if (db->id == db_id && !db->deleted) return db.get();
  return nullptr;
}

const Table* CatalogState::FindTableById(uint32_t db_id, uint32_t table_id) const {
  const Database* db = FindDatabaseById(db_id);
  return db ? db->FindTableById(table_id) : nullptr;
}

size_t CatalogState::LiveDatabaseCount() const {
  size_t n = 0;
  for (const auto& [name, db] : databases) n += !db->deleted && name != "_internal";
  return n;
}

Status ValidateDatabaseName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("db name cannot be empty");
  if (name.size() > 511) return Status::InvalidArgument("db name cannot be longer than 511 bytes");
  if (!std::isalnum(static_cast<unsigned char>(name[0])))
    return Status::InvalidArgument("db name did not start with a number or letter");
  int slashes = 0;
  for (char c : name) {
    if (c == '/') {
      ++slashes;
      continue;
    }
    if (static_cast<unsigned char>(c) > 127 ||
        !(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      return Status::InvalidArgument(
          "invalid character in database or rp name: must be ASCII, containing only letters, "
          "numbers, underscores, or hyphens");
  }
  if (slashes > 1 || name.back() == '/')
    return Status::InvalidArgument("db name may contain at most one '/' and not at the end");
  return Status::Ok();
}

Catalog::Catalog(objstore::ObjectStore* store, std::string node_id, Limits limits)
    : store_(store), prefix_(std::move(node_id) + "/catalog/"), limits_(limits),
      state_(std::make_shared<CatalogState>()) {}

std::shared_ptr<const CatalogState> Catalog::State() const {
  std::lock_guard lock(state_mu_);
  return state_;
}

void Catalog::AddListener(Listener listener) { listeners_.push_back(std::move(listener)); }
void Catalog::AddPrePublishListener(Listener listener) { pre_publish_listeners_.push_back(std::move(listener)); }

Status Catalog::Load() {
  auto keys = store_->List(prefix_);
  if (!keys.ok()) return keys.status();
  if (!keys->empty()) newest_stored_ = VersionOf(keys->back());
  if (auto stored = NewestValid(*keys, std::nullopt)) {
    std::lock_guard lock(state_mu_);
    state_ = std::move(stored);
    return Status::Ok();
  }
  auto fresh = std::make_shared<CatalogState>();
  std::random_device rd;
  char uuid[40];
  std::snprintf(uuid, sizeof uuid, "%08x-%04x-4%03x-a%03x-%08x%04x", rd(), rd() & 0xffff,
                rd() & 0xfff, rd() & 0xfff, rd(), rd() & 0xffff);
  fresh->catalog_uuid = uuid;
  Status created = Persist(*fresh);
  // Another node of the cluster created the catalog at the same moment: use theirs.
  if (shared_ && created.code() == Code::kAlreadyExists) return Load();
  RIFFLE_RETURN_IF_ERROR(created);
  std::lock_guard lock(state_mu_);
  state_ = fresh;
  return Status::Ok();
}

Status Catalog::Persist(const CatalogState& state) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.json", static_cast<unsigned long long>(state.version));
  std::string data = SerializeCatalog(state);
  RIFFLE_RETURN_IF_ERROR(shared_ ? store_->PutIfAbsent(prefix_ + name, data)
                                 : store_->Put(prefix_ + name, data));
  newest_stored_ = std::max(newest_stored_, state.version);
  // Keep a few older versions as a fallback against a corrupt newest file.
  if (state.version >= 3) {
    std::snprintf(name, sizeof name, "%020llu.json",
                  static_cast<unsigned long long>(state.version - 3));
    (void)store_->Delete(prefix_ + name);
  }
  return Status::Ok();
}

uint64_t Catalog::VersionOf(const std::string& key) const {
  return std::strtoull(key.c_str() + prefix_.size(), nullptr, 10);
}

void Catalog::Publish(std::shared_ptr<const CatalogState> before,
                      std::shared_ptr<const CatalogState> next) {
  for (const auto& l : pre_publish_listeners_) l(*before, *next);
  {
    std::lock_guard lock(state_mu_);
    state_ = next;
  }
  for (const auto& l : listeners_) l(*before, *next);
}

Status Catalog::Refresh() {
  std::lock_guard write_lock(write_mu_);
  return RefreshLocked();
}

Status Catalog::RefreshLocked() {
  auto keys = store_->List(prefix_);
  if (!keys.ok()) return keys.status();
  if (!keys->empty()) newest_stored_ = std::max(newest_stored_, VersionOf(keys->back()));
  std::shared_ptr<const CatalogState> current = State();
  if (auto newer = NewestValid(*keys, current->version)) Publish(current, std::move(newer));
  return Status::Ok();
}

// Newest first; a torn, corrupt or meanwhile deleted version falls back to the one before it.
std::shared_ptr<CatalogState> Catalog::NewestValid(const std::vector<std::string>& keys,
                                                   std::optional<uint64_t> above) const {
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
    if (above && VersionOf(*it) <= *above) break;
    auto contents = store_->Get(*it);
    if (!contents.ok()) continue;
    auto state = DeserializeCatalog(*contents);
    if (!state.ok()) {
      log::Error("skipping catalog file " + *it + ": " + state.status().message());
      continue;
    }
    return std::make_shared<CatalogState>(std::move(state).value());
  }
  return nullptr;
}

Status Catalog::Mutate(const Mutation& mutation) {
  std::lock_guard write_lock(write_mu_);
  for (int attempt = 0;; ++attempt) {
    if (shared_) RIFFLE_RETURN_IF_ERROR(RefreshLocked());
    std::shared_ptr<const CatalogState> before = State();
    auto next = std::make_shared<CatalogState>(*before);
    RIFFLE_RETURN_IF_ERROR(mutation(*next));
    // Past a corrupt newer file too: its number is never reused.
    next->version = std::max(before->version, newest_stored_) + 1;
    Status st = Persist(*next);
    // Another node wrote that version first: redo the change on top of it.
    if (shared_ && st.code() == Code::kAlreadyExists && attempt < 20) continue;
    RIFFLE_RETURN_IF_ERROR(st);
    Publish(before, next);
    return Status::Ok();
  }
}

// Copy-on-write helper: clone the database being changed.
std::shared_ptr<Database> MutableDb(CatalogState& s, const std::string& name) {
  auto it = s.databases.find(name);
  auto copy = std::make_shared<Database>(*it->second);
  it->second = copy;
  return copy;
}

namespace {

Status AddDatabase(CatalogState& s, const std::string& name, const Limits& limits,
                   std::optional<int64_t> retention_ns) {
  RIFFLE_RETURN_IF_ERROR(ValidateDatabaseName(name));
  if (s.LiveDatabaseCount() >= limits.max_databases)
    return Status::LimitExceeded("Adding a new database would exceed limit of " +
                                 std::to_string(limits.max_databases) + " databases");
  auto db = std::make_shared<Database>();
  db->id = s.next_db_id++;
  db->name = name;
  db->retention_ns = retention_ns;
  s.databases[name] = db;
  return Status::Ok();
}

size_t TableCount(const CatalogState& s) {
  size_t n = 0;
  for (const auto& [name, db] : s.databases)
    if (!db->deleted) n += db->tables.size();
  return n;
}

std::shared_ptr<Table> NewTable(CatalogState& s, const std::string& name) {
  auto t = std::make_shared<Table>();
  t->id = s.next_table_id++;
  t->name = name;
  t->AddColumn("time", ColumnType::kTime, s.next_column_id++);
  return t;
}

}  // namespace

Result<std::shared_ptr<const Database>> Catalog::EnsureDatabase(const std::string& name) {
  auto state = State();
  if (auto it = state->databases.find(name); it != state->databases.end() && !it->second->deleted)
    return it->second;
  Status st = Mutate([&](CatalogState& s) -> Status {
    if (s.FindDatabase(name)) return Status::Ok();  // raced with another creator
    return AddDatabase(s, name, limits_, std::nullopt);
  });
  if (!st.ok()) return st;
  return State()->databases.at(name);
}

Status Catalog::CreateDatabase(const std::string& name, std::optional<int64_t> retention_ns) {
  return Mutate([&](CatalogState& s) -> Status {
    if (s.FindDatabase(name)) return Status::AlreadyExists("database '" + name + "' already exists");
    return AddDatabase(s, name, limits_, retention_ns);
  });
}

Status Catalog::SetRetention(const std::string& name, std::optional<int64_t> retention_ns) {
  return Mutate([&](CatalogState& s) -> Status {
    if (!s.FindDatabase(name)) return Status::NotFound("Database not found: " + name);
    MutableDb(s, name)->retention_ns = retention_ns;
    return Status::Ok();
  });
}

Status Catalog::EnsureInternalDatabase() {
  if (State()->FindDatabase("_internal")) return Status::Ok();
  return Mutate([&](CatalogState& s) -> Status {
    if (s.FindDatabase("_internal")) return Status::Ok();
    auto db = std::make_shared<Database>();
    db->id = s.next_db_id++;
    db->name = "_internal";
    s.databases["_internal"] = db;
    return Status::Ok();
  });
}

Status Catalog::DeleteDatabase(const std::string& name) {
  if (name == "_internal") return Status::Internal("cannot delete internal db");
  return Mutate([&](CatalogState& s) -> Status {
    if (!s.FindDatabase(name)) return Status::NotFound("Database not found: " + name);
    std::time_t now = NowNanos() / 1000000000LL;
    std::tm tm{};
    gmtime_r(&now, &tm);
    char suffix[32];
    std::strftime(suffix, sizeof suffix, "-%Y%m%dT%H%M%S", &tm);
    std::string new_name = name + suffix;
    for (int i = 1; s.databases.count(new_name); ++i) new_name = name + suffix + "-" + std::to_string(i);
    auto db = std::make_shared<Database>(*s.databases.at(name));
    db->name = new_name;
    db->deleted = true;
    s.databases.erase(name);
    s.databases[new_name] = db;
    return Status::Ok();
  });
}

Status Catalog::AddColumns(const std::string& db_name, const std::vector<ColumnAddition>& additions) {
  return Mutate([&](CatalogState& s) -> Status {
    if (!s.FindDatabase(db_name)) return Status::NotFound("Database not found: " + db_name);
    auto db = MutableDb(s, db_name);
    size_t tables = TableCount(s);
    std::map<std::string, std::shared_ptr<Table>> touched;
    for (const auto& add : additions) {
      std::shared_ptr<Table>& t = touched[add.table];
      if (!t) {
        auto it = db->tables.find(add.table);
        if (it == db->tables.end()) {
          for (const auto& [other, table] : touched)
            if (other != add.table && table && SameIgnoringCase(other, add.table))
              return Status::Conflict(CaseCollisionMessage("table", add.table, other));
          if (const Table* other = db->FindTableOtherCase(add.table))
            return Status::Conflict(CaseCollisionMessage("table", add.table, other->name));
          if (tables >= limits_.max_tables)
            return Status::LimitExceeded("Update to schema would exceed number of tables limit of " +
                                         std::to_string(limits_.max_tables));
          ++tables;
          t = NewTable(s, add.table);
        } else {
          t = std::make_shared<Table>(*it->second);
        }
      }
      if (const Column* c = t->Find(add.column)) {
        if (c->type != add.type)
          return Status::Conflict("invalid column type for column '" + add.column + "', expected " +
                                  ColumnTypeName(c->type) + ", got " + ColumnTypeName(add.type));
        continue;
      }
      if (const Column* other = t->FindOtherCase(add.column))
        return Status::Conflict(CaseCollisionMessage("column", add.column, other->name));
      if (t->columns.size() - 1 >= limits_.max_columns_per_table)
        return Status::LimitExceeded("Update to schema would exceed number of columns per table limit of " +
                                     std::to_string(limits_.max_columns_per_table) + " columns");
      t->AddColumn(add.column, add.type, s.next_column_id++);
    }
    for (auto& [name, t] : touched) db->tables[name] = t;
    return Status::Ok();
  });
}

Status Catalog::CreateTable(const std::string& db_name, const std::string& table,
                            const std::vector<std::string>& tags,
                            const std::vector<std::pair<std::string, ColumnType>>& fields,
                            std::optional<int64_t> retention_ns) {
  if (table.empty()) return Status::InvalidArgument("table name cannot be empty");
  auto ensured = EnsureDatabase(db_name);
  if (!ensured.ok()) return ensured.status();
  return Mutate([&](CatalogState& s) -> Status {
    if (!s.FindDatabase(db_name)) return Status::NotFound("Database not found: " + db_name);
    if (s.FindDatabase(db_name)->FindTable(table))
      return Status::AlreadyExists("table '" + table + "' already exists in database '" + db_name + "'");
    if (const Table* other = s.FindDatabase(db_name)->FindTableOtherCase(table))
      return Status::InvalidArgument(CaseCollisionMessage("table", table, other->name));
    if (TableCount(s) >= limits_.max_tables)
      return Status::LimitExceeded("Update to schema would exceed number of tables limit of " +
                                   std::to_string(limits_.max_tables));
    auto db = MutableDb(s, db_name);
    auto t = NewTable(s, table);
    for (const auto& tag : tags) {
      if (tag == "time" || t->Find(tag)) return Status::InvalidArgument("duplicate or reserved column name: " + tag);
      if (const Column* other = t->FindOtherCase(tag))
        return Status::InvalidArgument(CaseCollisionMessage("column", tag, other->name));
      t->AddColumn(tag, ColumnType::kTag, s.next_column_id++);
    }
    for (const auto& [name, type] : fields) {
      if (name == "time" || t->Find(name)) return Status::InvalidArgument("duplicate or reserved column name: " + name);
      if (const Column* other = t->FindOtherCase(name))
        return Status::InvalidArgument(CaseCollisionMessage("column", name, other->name));
      t->AddColumn(name, type, s.next_column_id++);
    }
    t->retention_ns = retention_ns;
    db->tables[table] = t;
    return Status::Ok();
  });
}

Status Catalog::SetTableRetention(const std::string& db_name, const std::string& table,
                                  std::optional<int64_t> retention_ns) {
  return Mutate([&](CatalogState& s) -> Status {
    const Database* db = s.FindDatabase(db_name);
    if (!db) return Status::NotFound("Database not found: " + db_name);
    const Table* current = db->FindTable(table);
    if (!current) return Status::NotFound("table '" + table + "' not found in database '" + db_name + "'");
    auto copy = std::make_shared<Table>(*current);
    copy->retention_ns = retention_ns;
    MutableDb(s, db_name)->tables[table] = copy;
    return Status::Ok();
  });
}

Status Catalog::DeleteTable(const std::string& db_name, const std::string& table) {
  return Mutate([&](CatalogState& s) -> Status {
    const Database* db = s.FindDatabase(db_name);
    if (!db) return Status::NotFound("Database not found: " + db_name);
    if (!db->FindTable(table)) return Status::NotFound("Table not found: " + table);
    auto changed = MutableDb(s, db_name);
    changed->tables.erase(table);
    // Its caches go with it.
    std::erase_if(changed->last_caches, [&](const auto& kv) { return kv.second.table == table; });
    std::erase_if(changed->distinct_caches, [&](const auto& kv) { return kv.second.table == table; });
    return Status::Ok();
  });
}

Status Catalog::CreateTrigger(Trigger trigger) {
  return Mutate([&](CatalogState& s) -> Status {
    const Database* db = s.FindDatabase(trigger.database);
    if (!db) return Status::NotFound("Database not found " + trigger.database);
    if (db->triggers.count(trigger.name))
      return Status::AlreadyExists("trigger '" + trigger.name + "' already exists in database '" +
                                   trigger.database + "'");
    MutableDb(s, trigger.database)->triggers[trigger.name] = trigger;
    return Status::Ok();
  });
}

Status Catalog::SetTriggerDisabled(const std::string& db_name, const std::string& name, bool disabled) {
  return Mutate([&](CatalogState& s) -> Status {
    const Database* db = s.FindDatabase(db_name);
    if (!db) return Status::NotFound("Database not found " + db_name);
    if (!db->triggers.count(name)) return Status::NotFound("trigger not found: " + name);
    MutableDb(s, db_name)->triggers[name].disabled = disabled;
    return Status::Ok();
  });
}

Status Catalog::DeleteTrigger(const std::string& db_name, const std::string& name) {
  return Mutate([&](CatalogState& s) -> Status {
    const Database* db = s.FindDatabase(db_name);
    if (!db) return Status::NotFound("Database not found " + db_name);
    if (!db->triggers.count(name)) return Status::NotFound("trigger not found: " + name);
    MutableDb(s, db_name)->triggers.erase(name);
    return Status::Ok();
  });
}

}  // namespace riffle::catalog
