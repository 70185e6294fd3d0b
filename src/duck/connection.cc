#include "duck/connection.h"

#include <array>
#include <cstring>

#include "duck/internal.h"
#include "duck/result_reader.h"

namespace riffle::duck {

const char* SqlTypeName(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::kVarchar:
      return "VARCHAR";
    case ColumnKind::kBigint:
      return "BIGINT";
    case ColumnKind::kUBigint:
      return "UBIGINT";
    case ColumnKind::kDouble:
      return "DOUBLE";
    case ColumnKind::kBoolean:
      return "BOOLEAN";
    case ColumnKind::kTimestampNs:
      return "TIMESTAMP_NS";
  }
  return "VARCHAR";
}

namespace {

static_assert(sizeof(VectorString) == sizeof(duckdb_string_t), "VectorString mirrors duckdb_string_t");

// The Arrow format of a column whose DuckDB vectors can be sent as they are (see VectorFormats).
const char* VectorFormatOf(duckdb_type t) {
  switch (t) {
    case DUCKDB_TYPE_BOOLEAN: return "duck:bool";
    case DUCKDB_TYPE_TINYINT: return "c";
    case DUCKDB_TYPE_SMALLINT: return "s";
    case DUCKDB_TYPE_INTEGER: return "i";
    case DUCKDB_TYPE_BIGINT: return "l";
    case DUCKDB_TYPE_UTINYINT: return "C";
    case DUCKDB_TYPE_USMALLINT: return "S";
    case DUCKDB_TYPE_UINTEGER: return "I";
    case DUCKDB_TYPE_UBIGINT: return "L";
    case DUCKDB_TYPE_FLOAT: return "f";
    case DUCKDB_TYPE_DOUBLE: return "g";
    case DUCKDB_TYPE_DATE: return "tdD";
    case DUCKDB_TYPE_TIMESTAMP: return "tsu:";
    case DUCKDB_TYPE_TIMESTAMP_NS: return "tsn:";
    case DUCKDB_TYPE_TIMESTAMP_MS: return "tsm:";
    case DUCKDB_TYPE_TIMESTAMP_S: return "tss:";
    case DUCKDB_TYPE_HUGEINT: return "d:38,0";
    case DUCKDB_TYPE_VARCHAR: return "duck:varchar";
    default: return nullptr;
  }
}

// A chunk lent out as a struct ArrowArray over its vectors; freed by the array's release.
struct LentChunk {
  duckdb_data_chunk chunk = nullptr;
  std::vector<ArrowArray> columns;
  std::vector<ArrowArray*> column_ptrs;
  std::vector<std::array<const void*, 2>> buffers;
  const void* struct_buffer[1] = {nullptr};

  static void Release(ArrowArray* a) {
    auto* lent = static_cast<LentChunk*>(a->private_data);
    duckdb_destroy_data_chunk(&lent->chunk);
    delete lent;
    a->release = nullptr;
  }
  static void ReleaseChild(ArrowArray* a) { a->release = nullptr; }
};

// A streaming result: the rows are produced as they are fetched.
class StreamingRows final : public Rows {
 public:
  explicit StreamingRows(std::unique_ptr<DuckResult> result)
      : result_(std::move(result)), reader_(result_->get()) {
    std::vector<std::string> formats;
    for (idx_t c = 0; c < duckdb_column_count(result_->get()); ++c) {
      const char* f = VectorFormatOf(duckdb_column_type(result_->get(), c));
      if (!f) return;
      formats.emplace_back(f);
    }
    vector_formats_ = std::move(formats);
  }
  const std::optional<std::vector<std::string>>& VectorFormats() const override { return vector_formats_; }

  Result<bool> NextVectors(ArrowArray* out) override {
    if (!vector_formats_) return Status::Internal("NextVectors on a result with other column types");
    RIFFLE_ASSIGN_OR_RETURN(duckdb_data_chunk chunk, FetchRows());
    if (!chunk) return false;
    idx_t rows = duckdb_data_chunk_get_size(chunk);
    auto* lent = new LentChunk();
    lent->chunk = chunk;
    size_t n = vector_formats_->size();
    lent->columns.resize(n);
    lent->buffers.resize(n);
    for (size_t c = 0; c < n; ++c) {
      duckdb_vector v = duckdb_data_chunk_get_vector(chunk, c);
      const uint64_t* validity = duckdb_vector_get_validity(v);
      lent->buffers[c] = {validity, duckdb_vector_get_data(v)};
      lent->columns[c] = ArrowArray{static_cast<int64_t>(rows), validity ? -1 : 0, 0, 2, 0,
                                    lent->buffers[c].data(), nullptr, nullptr, LentChunk::ReleaseChild, nullptr};
      lent->column_ptrs.push_back(&lent->columns[c]);
    }
    *out = ArrowArray{static_cast<int64_t>(rows), 0, 0, 1, static_cast<int64_t>(n), lent->struct_buffer,
                      lent->column_ptrs.data(), nullptr, LentChunk::Release, lent};
    return true;
  }

  const std::vector<std::string>& column_names() const override { return reader_.names(); }
  Result<bool> Next(Batch* batch) override {
    RIFFLE_ASSIGN_OR_RETURN(duckdb_data_chunk chunk, FetchRows());
    if (!chunk) return false;
    Status st = reader_.Read(chunk, batch);
    duckdb_destroy_data_chunk(&chunk);
    if (!st.ok()) {
      done_ = true;
      return st;
    }
    return true;
  }

  Status ArrowSchemaOf(ArrowSchema* out) override {
    duckdb_result* result = result_->get();
    idx_t n = duckdb_column_count(result);
    std::vector<duckdb_logical_type> types(n);
    std::vector<const char*> names(n);
    for (idx_t i = 0; i < n; ++i) {
      types[i] = duckdb_column_logical_type(result, i);
      names[i] = reader_.names()[i].c_str();
    }
    duckdb_arrow_options options = duckdb_result_get_arrow_options(result);
    duckdb_error_data err = duckdb_to_arrow_schema(options, types.data(), names.data(), n, out);
    duckdb_destroy_arrow_options(&options);
    for (auto& t : types) duckdb_destroy_logical_type(&t);
    return TakeError(err, "cannot describe the result as an Arrow schema");
  }

  Result<bool> NextArrow(ArrowArray* out) override {
    RIFFLE_ASSIGN_OR_RETURN(duckdb_data_chunk chunk, FetchRows());
    if (!chunk) return false;
    if (!arrow_options_) arrow_options_ = duckdb_result_get_arrow_options(result_->get());
    duckdb_error_data err = duckdb_data_chunk_to_arrow(arrow_options_, chunk, out);
    duckdb_destroy_data_chunk(&chunk);
    Status st = TakeError(err, "cannot convert a result chunk to Arrow");
    if (!st.ok()) {
      done_ = true;
      return st;
    }
    return true;
  }

  ~StreamingRows() override {
    if (arrow_options_) duckdb_destroy_arrow_options(&arrow_options_);
  }

 private:
  // The next chunk with rows (empty ones are skipped), or null at the end; an error DuckDB
  // raised while producing rows ends the result.
  Result<duckdb_data_chunk> FetchRows() {
    while (!done_) {
      duckdb_data_chunk chunk = duckdb_fetch_chunk(*result_->get());
      if (!chunk) {
        done_ = true;
        const char* err = duckdb_result_error(result_->get());
        if (err) return Status::InvalidArgument(err);
        return static_cast<duckdb_data_chunk>(nullptr);
      }
      if (duckdb_data_chunk_get_size(chunk) > 0) return chunk;
      duckdb_destroy_data_chunk(&chunk);
    }
    return static_cast<duckdb_data_chunk>(nullptr);
  }

  static Status TakeError(duckdb_error_data err, const std::string& context) {
    if (!err) return Status::Ok();
    Status st = Status::Ok();
    if (duckdb_error_data_has_error(err))
      st = Status::Internal(context + ": " + duckdb_error_data_message(err));
    duckdb_destroy_error_data(&err);
    return st;
  }

  std::unique_ptr<DuckResult> result_;
  ChunkReader reader_;
  bool done_ = false;
  duckdb_arrow_options arrow_options_ = nullptr;
  std::optional<std::vector<std::string>> vector_formats_;
};

}  // namespace

std::unique_ptr<Rows> NewStreamingRows(std::unique_ptr<DuckResult> result) {
  return std::make_unique<StreamingRows>(std::move(result));
}

Result<Connection> Connection::Open(Database& db) {
  Connection c;
  if (duckdb_connect(db.db_, &c.conn_) == DuckDBError)
    return Status::Internal("cannot connect to DuckDB");
  return c;
}

Connection::~Connection() {
  if (parse_tree_) duckdb_destroy_prepare(&parse_tree_);
  if (conn_) duckdb_disconnect(&conn_);
}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (parse_tree_) duckdb_destroy_prepare(&parse_tree_);
    if (conn_) duckdb_disconnect(&conn_);
    conn_ = other.conn_;
    parse_tree_ = other.parse_tree_;
    other.conn_ = nullptr;
    other.parse_tree_ = nullptr;
  }
  return *this;
}

Status Connection::Exec(const std::string& sql) { return duck::Exec(conn_, sql); }

Result<std::vector<std::vector<int64_t>>> Connection::QueryInt64s(const std::string& sql) {
  DuckResult r;
  if (duckdb_query(conn_, sql.c_str(), r.get()) == DuckDBError) {
    const char* err = duckdb_result_error(r.get());
    return Status::Internal("internal SQL failed: " + std::string(err ? err : "?") + " [" + sql +
                            "]");
  }
  std::vector<std::vector<int64_t>> rows(duckdb_row_count(r.get()),
                                         std::vector<int64_t>(duckdb_column_count(r.get())));
  for (idx_t row = 0; row < rows.size(); ++row)
    for (idx_t col = 0; col < rows[row].size(); ++col)
      rows[row][col] = duckdb_value_int64(r.get(), col, row);
  return rows;
}

Result<std::unique_ptr<Statement>> Connection::PrepareOne(const std::string& sql) {
  duckdb_extracted_statements extracted = nullptr;
  idx_t count = duckdb_extract_statements(conn_, sql.c_str(), &extracted);
  if (count == 0) {
    const char* text = extracted ? duckdb_extract_statements_error(extracted) : nullptr;
    std::string err = text ? text : "";  // none for a text without statements
    duckdb_destroy_extracted(&extracted);
    return err.empty() ? StatementCountError(0) : Status::InvalidArgument(err);
  }
  if (count > 1) {
    duckdb_destroy_extracted(&extracted);
    return StatementCountError(count);
  }
  duckdb_prepared_statement stmt = nullptr;
  duckdb_state st = duckdb_prepare_extracted_statement(conn_, extracted, 0, &stmt);
  duckdb_destroy_extracted(&extracted);
  if (st == DuckDBError) {
    std::string err = duckdb_prepare_error(stmt) ? duckdb_prepare_error(stmt) : "prepare failed";
    duckdb_destroy_prepare(&stmt);
    return Status::InvalidArgument(err);
  }
  return std::unique_ptr<Statement>(new Statement(stmt));
}

namespace {

// `function`($1) on the text `arg`, with `*stmt` prepared on first use and kept.
Result<std::string> CallTextFunction(duckdb_connection conn, duckdb_prepared_statement* stmt,
                                     const std::string& function, const std::string& arg) {
  if (!*stmt &&
      duckdb_prepare(conn, ("SELECT " + function + "($1::VARCHAR)").c_str(), stmt) == DuckDBError) {
    std::string err = duckdb_prepare_error(*stmt) ? duckdb_prepare_error(*stmt) : "?";
    duckdb_destroy_prepare(stmt);
    *stmt = nullptr;
    return Status::Internal("cannot prepare " + function + ": " + err);
  }
  DuckResult r;
  bool ok = duckdb_bind_varchar_length(*stmt, 1, arg.data(), arg.size()) != DuckDBError &&
            duckdb_execute_prepared(*stmt, r.get()) != DuckDBError;
  if (!ok) {
    const char* err = duckdb_result_error(r.get());
    return Status::Internal(function + " failed: " + std::string(err ? err : "?"));
  }
  char* text = duckdb_value_varchar(r.get(), 0, 0);
  if (!text) return Status::Internal(function + " returned no text");
  std::string out(text);
  duckdb_free(text);
  return out;
}

}  // namespace

Result<std::string> Connection::ParseTreeJson(const std::string& sql) {
  return CallTextFunction(conn_, &parse_tree_, "json_serialize_sql", sql);
}

Result<std::string> Connection::SqlOfParseTree(const std::string& tree_json) {
  duckdb_prepared_statement stmt = nullptr;
  auto sql = CallTextFunction(conn_, &stmt, "json_deserialize_sql", tree_json);
  if (stmt) duckdb_destroy_prepare(&stmt);
  return sql;
}

void Connection::Interrupt() {
  if (conn_) duckdb_interrupt(conn_);
}

Status Connection::LoadTempTable(const std::string& name,
                                 const std::vector<std::pair<std::string, ColumnKind>>& columns,
                                 const std::vector<std::vector<Value>>& rows) {
  std::string cols;
  for (const auto& [n, k] : columns)
    cols += (cols.empty() ? "" : ", ") + QuoteIdent(n) + " " + SqlTypeName(k);
  RIFFLE_RETURN_IF_ERROR(
      Exec("CREATE OR REPLACE TEMP TABLE " + QuoteIdent(name) + " (" + cols + ")"));
  duckdb_appender app;
  // Temp tables live in catalog "temp", schema "main".
  if (duckdb_appender_create_ext(conn_, "temp", "main", name.c_str(), &app) == DuckDBError) {
    duckdb_appender_destroy(&app);
    return Status::Internal("cannot append to temporary table " + name);
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      const Value& v = i < row.size() ? row[i] : Value{};
      if (std::holds_alternative<std::monostate>(v))
        duckdb_append_null(app);
      else if (auto* b = std::get_if<bool>(&v))
        duckdb_append_bool(app, *b);
      else if (auto* x = std::get_if<int64_t>(&v))
        duckdb_append_int64(app, *x);
      else if (auto* u = std::get_if<uint64_t>(&v))
        duckdb_append_uint64(app, *u);
      else if (auto* d = std::get_if<double>(&v))
        duckdb_append_double(app, *d);
      else if (auto* s = std::get_if<std::string>(&v))
        duckdb_append_varchar_length(app, s->data(), s->size());
      else {
        duckdb_value tv =
            duckdb_create_timestamp_ns(duckdb_timestamp_ns{std::get<Timestamp>(v).ns});
        duckdb_append_value(app, tv);
        duckdb_destroy_value(&tv);
      }
    }
    duckdb_appender_end_row(app);
  }
  Status st;
  if (duckdb_appender_close(app) == DuckDBError)
    st = Status::Internal(std::string("temporary table load failed: ") +
                          (duckdb_appender_error(app) ? duckdb_appender_error(app) : "?"));
  duckdb_appender_destroy(&app);
  return st;
}

Statement::~Statement() {
  duckdb_prepared_statement stmt = stmt_;
  duckdb_destroy_prepare(&stmt);
}

bool Statement::IsReadOnlyQuery() const {
  duckdb_statement_type type = duckdb_prepared_statement_type(stmt_);
  return type == DUCKDB_STATEMENT_TYPE_SELECT || type == DUCKDB_STATEMENT_TYPE_EXPLAIN;
}

Result<bool> Statement::Bind(const std::string& name, const Value& value) {
  idx_t index = 0;
  if (duckdb_bind_parameter_index(stmt_, &index, name.c_str()) == DuckDBError) return false;
  duckdb_state st;
  if (std::holds_alternative<std::monostate>(value))
    st = duckdb_bind_null(stmt_, index);
  else if (auto* b = std::get_if<bool>(&value))
    st = duckdb_bind_boolean(stmt_, index, *b);
  else if (auto* i = std::get_if<int64_t>(&value))
    st = duckdb_bind_int64(stmt_, index, *i);
  else if (auto* u = std::get_if<uint64_t>(&value))
    st = duckdb_bind_uint64(stmt_, index, *u);
  else if (auto* d = std::get_if<double>(&value))
    st = duckdb_bind_double(stmt_, index, *d);
  else if (auto* s = std::get_if<std::string>(&value))
    st = duckdb_bind_varchar_length(stmt_, index, s->data(), s->size());
  else {
    duckdb_value tv =
        duckdb_create_timestamp_ns(duckdb_timestamp_ns{std::get<Timestamp>(value).ns});
    st = duckdb_bind_value(stmt_, index, tv);
    duckdb_destroy_value(&tv);
  }
  if (st == DuckDBError)
    return Status::InvalidArgument("cannot bind query parameter '$" + name + "'");
  return true;
}

Result<std::unique_ptr<Rows>> Statement::ExecuteStreaming() {
  duckdb_pending_result pending = nullptr;
  if (duckdb_pending_prepared_streaming(stmt_, &pending) == DuckDBError) {
    const char* err = pending ? duckdb_pending_error(pending) : nullptr;
    std::string msg = err ? err : "query failed";
    duckdb_destroy_pending(&pending);
    return Status::InvalidArgument(msg);
  }
  auto result = std::make_unique<DuckResult>();
  duckdb_state rc = duckdb_execute_pending(pending, result->get());
  duckdb_destroy_pending(&pending);
  if (rc == DuckDBError) {
    const char* err = duckdb_result_error(result->get());
    return Status::InvalidArgument(err ? err : "query failed");
  }
  return NewStreamingRows(std::move(result));
}

}  // namespace riffle::duck
