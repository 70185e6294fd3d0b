#include "write/writer.h"

#include <map>
#include <set>

#include "common/clock.h"
#include "common/text.h"

namespace riffle::write {
namespace {

using catalog::ColumnType;
using lineproto::FieldType;

ColumnType FieldColumnType(FieldType t) {
  switch (t) {
    case FieldType::kFloat: return ColumnType::kFloat64;
    case FieldType::kInteger: return ColumnType::kInt64;
    case FieldType::kUInteger: return ColumnType::kUInt64;
    case FieldType::kString: return ColumnType::kString;
    case FieldType::kBoolean: return ColumnType::kBool;
  }
  return ColumnType::kFloat64;
}

lineproto::LineError MakeError(const lineproto::Line& line, std::string message) {
  lineproto::LineError e;
  e.line_number = line.line_number;
  size_t n = std::min<size_t>(line.raw.size(), 20);
  while (n > 0 && n < line.raw.size() && (static_cast<unsigned char>(line.raw[n]) & 0xC0) == 0x80) --n;
  e.original_line = std::string(line.raw.substr(0, n));
  e.message = std::move(message);
  return e;
}

// Checks one line against the schema. Columns the table lacks are added to `additions`
// (with the types this line gives them, remembered in `pending` for later lines).
std::string CheckLine(const lineproto::ParsedBatch& batch, const lineproto::Line& line,
                      const catalog::Database* db,
                      std::map<std::pair<std::string, std::string>, ColumnType>& pending,
                      std::map<std::pair<std::string, std::string>, std::string>& spellings,
                      std::vector<catalog::ColumnAddition>* additions) {
  const catalog::Table* table = db ? db->FindTable(line.measurement) : nullptr;
  std::string table_name(line.measurement);
  // Only names new to the catalog can collide by letter case (with the catalog's names or with
  // those other lines of this request introduce); known names skip these checks.
  auto first_spelling = [&](const std::string& lower_key, std::string_view name) -> const std::string& {
    return spellings.emplace(std::make_pair(AsciiLower(table_name), lower_key), std::string(name)).first->second;
  };
  if (!table) {
    if (const catalog::Table* other = db ? db->FindTableOtherCase(table_name) : nullptr)
      return catalog::CaseCollisionMessage("table", table_name, other->name);
    if (const std::string& first = first_spelling("", table_name); first != table_name)
      return catalog::CaseCollisionMessage("table", table_name, first);
  }
  auto check = [&](std::string_view key, ColumnType type) -> std::string {
    if (key == "time") return "invalid column name 'time': it is reserved for the timestamp";
    if (const catalog::Column* c = table ? table->Find(key) : nullptr) {
      if (c->type != type)
        return "invalid column type for column '" + std::string(key) + "', expected " +
               catalog::ColumnTypeName(c->type) + ", got " + catalog::ColumnTypeName(type);
      return {};
    }
    if (const catalog::Column* other = table ? table->FindOtherCase(key) : nullptr)
      return catalog::CaseCollisionMessage("column", key, other->name);
    if (const std::string& first = first_spelling(AsciiLower(key), key); first != key)
      return catalog::CaseCollisionMessage("column", key, first);
    auto [it, inserted] = pending.emplace(std::make_pair(table_name, std::string(key)), type);
    if (!inserted && it->second != type)
      return "invalid column type for column '" + std::string(key) + "', expected " +
             catalog::ColumnTypeName(it->second) + ", got " + catalog::ColumnTypeName(type);
    if (inserted && additions) additions->push_back({table_name, std::string(key), type});
    return {};
  };
  const auto* tags = batch.tags_of(line);
  for (uint32_t t = 0; t < line.tag_count; ++t)
    if (auto err = check(tags[t].key, ColumnType::kTag); !err.empty()) return err;
  const auto* fields = batch.fields_of(line);
  for (uint32_t f = 0; f < line.field_count; ++f) {
    for (uint32_t t = 0; t < line.tag_count; ++t)
      if (tags[t].key == fields[f].key)
        return "invalid line protocol - '" + std::string(fields[f].key) + "' is used as both a tag and a field";
    if (auto err = check(fields[f].key, FieldColumnType(fields[f].type)); !err.empty()) return err;
  }
  return {};
}

// CheckLine, except that a line of the shape of `*last_valid` (the last line of this batch that
// passed) passes as that one did, without looking its keys up again; a line that passes becomes
// `*last_valid`.
std::string ValidateLine(const lineproto::ParsedBatch& batch, const lineproto::Line& line,
                         const catalog::Database* db,
                         std::map<std::pair<std::string, std::string>, ColumnType>& pending,
                         std::map<std::pair<std::string, std::string>, std::string>& spellings,
                         std::vector<catalog::ColumnAddition>* additions,
                         const lineproto::Line** last_valid) {
  if (*last_valid && ((*last_valid + 1 == &line && line.same_shape_as_previous) ||
                      lineproto::SameShape(batch, **last_valid, batch, line, true))) {
    *last_valid = &line;  // so that the next line of the shape takes the first test
    return {};
  }
  std::string err = CheckLine(batch, line, db, pending, spellings, additions);
  if (err.empty()) *last_valid = &line;
  return err;
}

}  // namespace

void Writer::Write(WriteRequest request, std::function<void(WriteOutcome)> done) {
  WriteOutcome outcome;
  auto fail = [&](Status st) {
    outcome.status = std::move(st);
    done(std::move(outcome));
  };
  if (!refusal_.empty()) return fail(Status(Code::kForbidden, refusal_));
  if (Status st = catalog::ValidateDatabaseName(request.database); !st.ok()) return fail(st);

  auto op = std::make_shared<wal::WriteOp>();
  op->body = std::make_shared<const std::string>(std::move(request.body));
  lineproto::ParsedBatch parsed = lineproto::Parse(*op->body);
  outcome.errors = std::move(parsed.errors);
  if (parsed.lines.empty() && outcome.errors.empty())
    return fail(Status::InvalidArgument("incoming write was empty"));
  if (!outcome.errors.empty() && !request.accept_partial)
    return fail(Status::InvalidArgument("line protocol parsing error"));

  // Errors of either pass join the parse errors, in line order.
  auto add_errors = [&](std::vector<lineproto::LineError>&& more) {
    outcome.errors.insert(outcome.errors.end(), more.begin(), more.end());
    std::sort(outcome.errors.begin(), outcome.errors.end(),
              [](const auto& a, const auto& b) { return a.line_number < b.line_number; });
  };
  // Timestamps do not depend on the schema: converted once, here.
  const int64_t default_time = lineproto::TruncateToPrecision(NowNanos(), request.precision);
  std::vector<int64_t> times(parsed.lines.size(), default_time);
  std::map<size_t, std::string> time_errors;  // by line index
  for (size_t i = 0; i < parsed.lines.size(); ++i) {
    if (!parsed.lines[i].timestamp) continue;
    auto ns = lineproto::ToNanoseconds(*parsed.lines[i].timestamp, request.precision);
    if (ns.ok()) times[i] = *ns;
    else time_errors[i] = ns.status().message();
  }

  // Pass 1: the schema additions of the lines that are valid. A line that fails adds nothing,
  // and when the write is all-or-nothing (accept_partial=false) a failing line means no
  // catalog change at all, not even the database.
  std::vector<catalog::ColumnAddition> additions;
  {
    auto before = catalog_->State();
    const catalog::Database* existing = before->FindDatabase(request.database);
    std::map<std::pair<std::string, std::string>, ColumnType> pending;
    std::map<std::pair<std::string, std::string>, std::string> spellings;
    std::vector<lineproto::LineError> invalid;
    const lineproto::Line* last_valid = nullptr;  // a line of the same shape passes too
    for (size_t i = 0; i < parsed.lines.size(); ++i) {
      const auto& line = parsed.lines[i];
      std::vector<catalog::ColumnAddition> line_additions;
      std::string err =
          ValidateLine(parsed, line, existing, pending, spellings, &line_additions, &last_valid);
      if (auto it = time_errors.find(i); err.empty() && it != time_errors.end()) err = it->second;
      if (!err.empty()) {
        for (const auto& a : line_additions) pending.erase({a.table, a.column});
        if (!request.accept_partial) invalid.push_back(MakeError(line, std::move(err)));
        continue;
      }
      additions.insert(additions.end(), line_additions.begin(), line_additions.end());
    }
    if (!invalid.empty()) {
      add_errors(std::move(invalid));
      return fail(Status::InvalidArgument("line protocol parsing error"));
    }
  }
  auto db = catalog_->EnsureDatabase(request.database);
  if (!db.ok()) return fail(db.status());
  if (!additions.empty()) {
    Status st = catalog_->AddColumns(request.database, additions);
    if (!st.ok() && st.code() != Code::kConflict) return fail(st);
    // On a conflict (a concurrent writer fixed a type first) pass 2 reports the bad lines.
  }

  // Pass 2: validate every line against the now-current schema and keep the good ones.
  auto state = catalog_->State();
  const catalog::Database* current = state->FindDatabase(request.database);
  if (!current) return fail(Status::NotFound("database '" + request.database + "' was deleted during the write"));
  op->db_id = current->id;
  op->db_name = request.database;
  std::map<std::pair<std::string, std::string>, ColumnType> pending;
  std::map<std::pair<std::string, std::string>, std::string> spellings;
  lineproto::ParsedBatch& kept = op->batch;
  kept.arena = std::move(parsed.arena);
  op->times.reserve(parsed.lines.size());
  std::vector<lineproto::LineError> rejected;
  std::vector<bool> good;
  good.reserve(parsed.lines.size());
  const lineproto::Line* last_valid = nullptr;
  for (size_t i = 0; i < parsed.lines.size(); ++i) {
    const auto& line = parsed.lines[i];
    std::string err = ValidateLine(parsed, line, current, pending, spellings, nullptr, &last_valid);
    if (auto it = time_errors.find(i); err.empty() && it != time_errors.end()) err = it->second;
    good.push_back(err.empty());
    if (!err.empty()) {
      rejected.push_back(MakeError(line, std::move(err)));
      continue;
    }
    op->times.push_back(times[i]);
  }
  if (rejected.empty()) {  // the usual case: keep the parsed vectors as they are
    kept.lines = std::move(parsed.lines);
    kept.tags = std::move(parsed.tags);
    kept.fields = std::move(parsed.fields);
  } else {
    kept.lines.reserve(parsed.lines.size());
    for (size_t i = 0; i < parsed.lines.size(); ++i) {
      if (!good[i]) continue;
      const lineproto::Line& line = parsed.lines[i];
      lineproto::Line copy = line;
      copy.same_shape_as_previous = line.same_shape_as_previous && good[i - 1];  // i > 0 then
      copy.tag_begin = static_cast<uint32_t>(kept.tags.size());
      copy.field_begin = static_cast<uint32_t>(kept.fields.size());
      kept.tags.insert(kept.tags.end(), parsed.tags_of(line), parsed.tags_of(line) + line.tag_count);
      kept.fields.insert(kept.fields.end(), parsed.fields_of(line), parsed.fields_of(line) + line.field_count);
      kept.lines.push_back(copy);
    }
  }
  if (!rejected.empty()) {
    add_errors(std::move(rejected));
    if (!request.accept_partial) return fail(Status::InvalidArgument("line protocol parsing error"));
  }
  lineproto::SeriesHashes(kept, &op->series);
  outcome.lines_written = kept.lines.size();
  outcome.partial = !outcome.errors.empty();
  if (kept.lines.empty()) return fail(Status::InvalidArgument("partial write of line protocol occurred"));

  if (request.no_sync && !wal_->Backlogged()) {
    Status st = wal_->Submit(std::move(op), nullptr);
    outcome.status = st;
    return done(std::move(outcome));
  }
  auto shared_done = std::make_shared<std::function<void(WriteOutcome)>>(std::move(done));
  auto shared_outcome = std::make_shared<WriteOutcome>(std::move(outcome));
  Status st = wal_->Submit(std::move(op), [shared_done, shared_outcome](Status flushed) {
    shared_outcome->status = std::move(flushed);
    (*shared_done)(std::move(*shared_outcome));
  });
  if (!st.ok()) {
    shared_outcome->status = st;
    (*shared_done)(std::move(*shared_outcome));
  }
}

std::vector<lineproto::LineError> Writer::Check(const std::string& database, const std::string& lp) const {
  lineproto::ParsedBatch parsed = lineproto::Parse(lp);
  std::vector<lineproto::LineError> errors = std::move(parsed.errors);
  auto state = catalog_->State();
  const catalog::Database* db = state->FindDatabase(database);
  std::map<std::pair<std::string, std::string>, ColumnType> pending;
  std::map<std::pair<std::string, std::string>, std::string> spellings;
  const lineproto::Line* last_valid = nullptr;
  for (const auto& line : parsed.lines) {
    std::string err = ValidateLine(parsed, line, db, pending, spellings, nullptr, &last_valid);
    if (!err.empty()) errors.push_back(MakeError(line, std::move(err)));
  }
  return errors;
}

}  // namespace riffle::write
