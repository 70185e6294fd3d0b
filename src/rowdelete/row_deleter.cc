// The delete request's path: checked against the catalog, one WAL entry per table, then waited
// for until the buffer and the Parquet files no longer hold the rows.
#include "rowdelete/row_deleter.h"

#include <future>

#include "common/clock.h"

namespace riffle::rowdelete {
namespace {

// How long a request waits for the Parquet files to be rewritten before it answers with the
// request still pending (the persister goes on).
constexpr std::chrono::minutes kWaitForFiles{10};

std::string TagList(const catalog::Table& table) {
  std::string out;
  for (const auto& c : table.columns)
    if (c.type == catalog::ColumnType::kTag) out += (out.empty() ? "" : ", ") + c.name;
  return out.empty() ? "none" : out;
}

// Whether `table` may hold rows the tags select; an error when a tag is named wrongly for a
// table the request names (for every table of a database, a table without the tag is skipped).
Result<bool> CheckTags(const catalog::Table& table, const TagEquals& tags, bool named) {
  for (const auto& [tag, value] : tags) {
    const catalog::Column* c = table.Find(tag);
    if (c && c->type == catalog::ColumnType::kTag) continue;
    if (c && named)
      return Status::InvalidArgument("'" + tag + "' is a " + catalog::ColumnTypeName(c->type) +
                                     " column of table '" + table.name +
                                     "', not a tag: rows are deleted by tags and time range only "
                                     "(tags of '" +
                                     table.name + "': " + TagList(table) + ")");
    if (c) return false;
    if (named)
      return Status::InvalidArgument("table '" + table.name + "' has no tag '" + tag +
                                     "' (its tags: " + TagList(table) + ")");
    if (!value.empty()) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<persist::RowDeleteRecord>> RowDeleter::Delete(const DeleteSpec& spec) {
  if (!refused_.empty()) return Status::Unimplemented(refused_);
  if (spec.min_time > spec.max_time)
    return Status::InvalidArgument("the delete's time range is empty: its start (" +
                                   std::to_string(spec.min_time) + ") is after its end (" +
                                   std::to_string(spec.max_time) + ")");
  auto state = catalog_->State();
  const catalog::Database* db = state->FindDatabase(spec.db);
  if (!db) return Status::NotFound("database not found: " + spec.db);
  std::vector<const catalog::Table*> tables;
  if (!spec.table.empty()) {
    const catalog::Table* table = db->FindTable(spec.table);
    if (!table)
      return Status::NotFound("table '" + spec.table + "' not found in database '" + spec.db + "'");
    RIFFLE_RETURN_IF_ERROR(CheckTags(*table, spec.tags, true).status());
    tables.push_back(table);
  } else {
    for (const auto& [name, table] : db->tables) {
      RIFFLE_ASSIGN_OR_RETURN(bool may_match, CheckTags(*table, spec.tags, false));
      if (may_match) tables.push_back(table.get());
    }
  }
  // One WAL entry per table, all in the WAL before any is waited for.
  std::vector<std::future<Status>> flushed;
  std::vector<uint64_t> sequences;
  int64_t now = NowNanos();
  for (const catalog::Table* table : tables) {
    auto d = std::make_shared<wal::RowDelete>();
    d->sequence = persister_->NextRowDeleteSequence();
    d->table_id = table->id;
    d->table_name = table->name;
    d->min_time = spec.min_time;
    d->max_time = spec.max_time;
    d->tags = spec.tags;
    d->predicate = spec.predicate;
    d->created_ns = now;
    auto op = std::make_shared<wal::WriteOp>();
    op->db_id = db->id;
    op->db_name = db->name;
    op->body = std::make_shared<const std::string>();
    op->row_delete = d;
    auto promise = std::make_shared<std::promise<Status>>();
    flushed.push_back(promise->get_future());
    Status st = wal_->Submit(op, [promise](Status s) { promise->set_value(std::move(s)); });
    if (!st.ok()) {
      promise->set_value(st);
      break;
    }
    sequences.push_back(d->sequence);
  }
  for (auto& f : flushed)
    if (Status st = f.get(); !st.ok())
      return Status(st.code(), "the delete was not written to the WAL: " + st.message());
  std::vector<persist::RowDeleteRecord> records;
  for (uint64_t seq : sequences) {
    RIFFLE_ASSIGN_OR_RETURN(auto record, persister_->WaitRowDelete(seq, kWaitForFiles));
    if (on_deleted_ && record.rows_deleted > 0) on_deleted_(db->name, record.request.table_name);
    records.push_back(std::move(record));
  }
  return records;
}

nlohmann::json RowDeleter::ToJson(const persist::RowDeleteRecord& r,
                                  const catalog::CatalogState& state) {
  const catalog::Database* db = state.FindDatabase(r.db_name);
  bool db_stale = !db || db->id != r.db_id;
  const catalog::Table* table = db_stale ? nullptr : db->FindTable(r.request.table_name);
  nlohmann::json j = {{"sequence", r.request.sequence},
                      {"db_id", r.db_id},
                      {"table_id", r.request.table_id},
                      {"db_name", r.db_name},
                      {"table_name", r.request.table_name},
                      {"db_name_stale", db_stale},
                      {"table_name_stale", !table || table->id != r.request.table_id},
                      {"delete_predicate", r.request.predicate},
                      {"created_at", r.request.created_ns / 1'000'000'000},
                      {"disposition", r.completed ? "completed" : "pending"},
                      {"rows_deleted", r.rows_deleted},
                      {"files_rewritten", r.files_rewritten},
                      {"files_removed", r.files_removed}};
  if (r.request.min_time != INT64_MIN) j["min_time"] = r.request.min_time;
  if (r.request.max_time != INT64_MAX) j["max_time"] = r.request.max_time;
  if (r.completed) j["completed_at"] = r.completed_ns / 1'000'000'000;
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

query::VirtualTable RowDeleter::SystemTable(const catalog::CatalogState& state,
                                            const std::string& db) {
  using CT = catalog::ColumnType;
  query::VirtualTable vt;
  vt.name = "row_deletes";
  vt.columns = {{"sequence", CT::kUInt64},         {"table_name", CT::kString},
                {"min_time", CT::kTime},           {"max_time", CT::kTime},
                {"delete_predicate", CT::kString}, {"created_at", CT::kTime},
                {"disposition", CT::kString},      {"completed_at", CT::kTime},
                {"rows_deleted", CT::kInt64},      {"files_rewritten", CT::kInt64},
                {"files_removed", CT::kInt64},     {"error", CT::kString}};
  const catalog::Database* d = state.FindDatabase(db);
  for (const auto& r : persister_->RowDeletes()) {
    if (!d || r.db_id != d->id) continue;
    auto time_or_null = [](int64_t t, int64_t none) {
      return t == none ? query::Value() : query::Value(query::Timestamp{t});
    };
    vt.rows.push_back(
        {r.request.sequence, r.request.table_name, time_or_null(r.request.min_time, INT64_MIN),
         time_or_null(r.request.max_time, INT64_MAX), r.request.predicate,
         query::Value(query::Timestamp{r.request.created_ns}),
         std::string(r.completed ? "completed" : "pending"),
         r.completed ? query::Value(query::Timestamp{r.completed_ns}) : query::Value(),
         r.rows_deleted, r.files_rewritten, r.files_removed,
         r.error.empty() ? query::Value() : query::Value(r.error)});
  }
  return vt;
}

}  // namespace riffle::rowdelete
