// ParsedStatement: user SQL that DuckDB binds and plans once, when it runs. The only file of
// Riffle that uses DuckDB's C++ API (the same prebuilt libduckdb.so and the headers of the same
// npm package as duckdb.h): the C API streams a result only from a prepared statement, and a
// prepared statement that reads Parquet files or a variable is bound and planned again when it
// runs (DuckDB's RequireRebind), which was about a fifth of a small query's CPU. The result is
// handed back to the C API (DuckDBTranslateResult), so everything that reads rows is shared.
#include <duckdb/main/capi/capi_internal.hpp>
#include <duckdb/main/client_context.hpp>
#include <duckdb/main/connection.hpp>
#include <duckdb/main/pending_query_result.hpp>
#include <duckdb/parser/sql_statement.hpp>

#include "duck/connection.h"
#include "duck/internal.h"

namespace riffle::duck {

struct ParsedStatement::Impl {
  duckdb::Connection* conn;
  duckdb::unique_ptr<duckdb::SQLStatement> statement;
  duckdb::case_insensitive_map_t<duckdb::BoundParameterData> values;
};

namespace {

std::string MessageOf(const std::exception& ex) { return duckdb::ErrorData(ex).Message(); }

duckdb::Value ToDuckValue(const Value& value) {
  if (std::holds_alternative<std::monostate>(value)) return duckdb::Value();
  if (auto* b = std::get_if<bool>(&value)) return duckdb::Value::BOOLEAN(*b);
  if (auto* i = std::get_if<int64_t>(&value)) return duckdb::Value::BIGINT(*i);
  if (auto* u = std::get_if<uint64_t>(&value)) return duckdb::Value::UBIGINT(*u);
  if (auto* d = std::get_if<double>(&value)) return duckdb::Value::DOUBLE(*d);
  if (auto* s = std::get_if<std::string>(&value)) return duckdb::Value(*s);  // checks UTF-8
  return duckdb::Value::TIMESTAMPNS(duckdb::timestamp_ns_t(std::get<Timestamp>(value).ns));
}

}  // namespace

Result<std::unique_ptr<ParsedStatement>> Connection::ParseOne(const std::string& sql) {
  auto* conn = reinterpret_cast<duckdb::Connection*>(conn_);  // what duckdb_connect made
  duckdb::vector<duckdb::unique_ptr<duckdb::SQLStatement>> statements;
  try {
    statements = conn->context->ParseStatements(sql);
  } catch (const std::exception& ex) {
    return Status::InvalidArgument(MessageOf(ex));
  }
  if (statements.size() != 1) return StatementCountError(statements.size());
  auto impl = std::make_unique<ParsedStatement::Impl>();
  impl->conn = conn;
  impl->statement = std::move(statements[0]);
  return std::unique_ptr<ParsedStatement>(new ParsedStatement(std::move(impl)));
}

ParsedStatement::ParsedStatement(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ParsedStatement::~ParsedStatement() = default;

bool ParsedStatement::IsReadOnlyQuery() const {
  auto type = impl_->statement->type;
  return type == duckdb::StatementType::SELECT_STATEMENT ||
         type == duckdb::StatementType::EXPLAIN_STATEMENT;
}

Result<bool> ParsedStatement::Bind(const std::string& name, const Value& value) {
  if (!impl_->statement->named_param_map.count(name)) return false;
  try {
    impl_->values[name] = duckdb::BoundParameterData(ToDuckValue(value));
  } catch (const std::exception&) {
    return Status::InvalidArgument("cannot bind query parameter '$" + name + "'");
  }
  return true;
}

Result<std::unique_ptr<Rows>> ParsedStatement::ExecuteStreaming() {
  if (!impl_->statement) return Status::Internal("a parsed statement runs only once");
  auto result = std::make_unique<DuckResult>();
  try {
    auto pending = impl_->conn->context->PendingQuery(std::move(impl_->statement), impl_->values,
                                                      /*allow_stream_result=*/true);
    if (pending->HasError()) return Status::InvalidArgument(pending->GetError());
    if (duckdb::DuckDBTranslateResult(pending->Execute(), result->get()) == DuckDBError) {
      const char* err = duckdb_result_error(result->get());
      return Status::InvalidArgument(err ? err : "query failed");
    }
  } catch (const std::exception& ex) {
    return Status::InvalidArgument(MessageOf(ex));
  }
  return NewStreamingRows(std::move(result));
}

}  // namespace riffle::duck
