// Internal to flight/: where results come from and how they are sent.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/support/method_handler.h>
#include <grpcpp/support/sync_stream.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "auth/token_store.h"
#include "catalog/catalog.h"
#include "flight.pb.h"
#include "flight/arrow_ipc.h"
#include "flight/flight.h"
#include "flight/value_arrays.h"
#include "flight/wire_flight_data.h"
#include "query/query.h"

namespace riffle::flight {

namespace pb = arrow::flight::protocol;

// A result as Arrow arrays: its columns, then chunks until null.
class ArrowSource {
 public:
  virtual ~ArrowSource() = default;
  virtual const std::vector<WireColumn>& columns() const = 0;
  // Fills `out` with the next chunk; false at the end.
  virtual Result<bool> Next(duck::OwnedArrowArray* out) = 0;
  // Whether a chunk stays valid after the next call (DuckDB's chunks own their memory), so
  // several can be sent as one message.
  virtual bool KeepsChunks() const { return false; }
};

using CancelPtr = std::shared_ptr<query::Cancellation>;

// A SQL query's DuckDB result, exported chunk by chunk.
Result<std::unique_ptr<ArrowSource>> SqlSource(std::unique_ptr<query::ResultStream> stream,
                                               const catalog::Database& db, const std::string& sql);
// An InfluxQL statement's rows: iox::measurement, the GROUP BY tags, then its columns.
using StatePtr = std::shared_ptr<const catalog::CatalogState>;
Result<std::unique_ptr<ArrowSource>> InfluxQLSource(query::QueryEngine& engine, StatePtr state,
                                                    const catalog::Database& db,
                                                    const std::string& text,
                                                    const std::string& params_json,
                                                    CancelPtr cancel);
// Rows that are already whole (Flight SQL metadata).
std::unique_ptr<ArrowSource> TableSource(std::vector<WireColumn> columns,
                                         std::vector<std::vector<query::Value>> rows);

// The Flight SQL server description (CommandGetSqlInfo), all of it when `wanted` is empty.
std::unique_ptr<ArrowSource> SqlInfo(const std::vector<uint32_t>& wanted);

// iox::column::type metadata for columns that are a table's columns, as InfluxDB 3 marks them
// (the clients' queryPoints tells tags from fields by it).
void AnnotateColumns(const catalog::Database& db, const std::string& query_text,
                     std::vector<WireColumn>* columns);

// A query that a ticket names.
struct QueryTicket {
  std::string database;
  std::string query;
  bool influxql = false;
  std::string params_json = "{}";  // {"name": value}
  std::string flightsql_command;   // a Flight SQL metadata command (serialized Any) instead
};
Result<QueryTicket> ParseTicket(const std::string& bytes);
std::string EncodeTicket(const QueryTicket& t);

// Status mapping: Riffle → gRPC (NotFound → NOT_FOUND, InvalidArgument → INVALID_ARGUMENT, …).
grpc::Status ToGrpc(const Status& st);

// The database a Flight SQL call runs in: a header, as InfluxDB 3 reads it.
Result<std::string> DatabaseOf(const grpc::ServerContext& ctx);

// Who made the call: nullopt while authentication is off; Unauthenticated without a valid token.
Result<std::optional<auth::TokenInfo>> CallerOf(const FlightOptions& options, const grpc::ServerContext& ctx);
// Whether `caller` may make the call. `database`: the one the call reads, which a resource token
// must hold db:<name>:read for; when empty, the call's 'database' header names it (a call
// without one reads no database). `influxql`: the InfluxQL text the call runs (with its bound
// parameters as JSON), which a resource token may only read with.
grpc::Status Authorize(const std::optional<auth::TokenInfo>& caller, const grpc::ServerContext& ctx,
                       const std::string& database, const std::string* influxql = nullptr,
                       const std::string* influxql_params_json = nullptr);
// CallerOf, then Authorize for the call's 'database' header.
grpc::Status CheckAuth(const FlightOptions& options, const grpc::ServerContext& ctx);

// The value of a request header, "" if absent.
std::string Header(const grpc::ServerContext& ctx, const std::string& name);

// Streams a source to the client: Schema, then RecordBatches of about 192 KiB each, encoded on
// a second thread while gRPC sends the previous one. A client gone mid-stream cancels the query.
grpc::Status SendStream(grpc::ServerWriter<WireFlightData>* writer, ArrowSource& source,
                        query::Cancellation& cancel);

// Watches a call from before its query starts to its end: once the client cancels or the
// deadline (grpc-timeout) passes, the query is cancelled, so DuckDB stops working for nobody.
class CallWatch {
 public:
  CallWatch(grpc::ServerContext* ctx, CancelPtr cancel);
  ~CallWatch();
  // The call's outcome: `st`, unless the watch stopped the query (then CANCELLED or
  // DEADLINE_EXCEEDED, whatever error the interrupted query gave).
  grpc::Status Outcome(grpc::Status st) const;

 private:
  void Run();
  grpc::ServerContext* ctx_;
  CancelPtr cancel_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<int> fired_{0};  // 1 cancelled by the client, 2 deadline
  std::thread thread_;
};

// Flight SQL (flight_sql.cc).
class FlightSql {
 public:
  explicit FlightSql(const FlightOptions& options) : options_(options) {}
  grpc::Status GetFlightInfo(grpc::ServerContext* ctx, const pb::FlightDescriptor& descriptor,
                             pb::FlightInfo* out);
  // The rows of a metadata command named by a ticket.
  Result<std::unique_ptr<ArrowSource>> Metadata(const std::string& database,
                                                const std::string& command);
  grpc::Status DoAction(grpc::ServerContext* ctx, const pb::Action& action,
                        grpc::ServerWriter<pb::Result>* writer);
  grpc::Status DoPut(grpc::ServerContext* ctx,
                     grpc::ServerReaderWriter<pb::PutResult, pb::FlightData>* stream);

 private:
  const FlightOptions& options_;
};

// Opens the source a ticket names; `cancel` (optional) can stop its query.
Result<std::unique_ptr<ArrowSource>> OpenTicket(const FlightOptions& options,
                                                const QueryTicket& ticket,
                                                CancelPtr cancel = nullptr);

}  // namespace riffle::flight
