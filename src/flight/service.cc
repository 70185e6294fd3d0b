// The Flight service: DoGet streams a ticket's result; Handshake, GetFlightInfo, DoAction and
// DoPut serve Flight SQL. Calls run on gRPC's synchronous threads, so a slow client blocks its
// own Write (HTTP/2 flow control) and nothing else.
#include <grpcpp/server_posix.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>

#include "auth/token_store.h"
#include "catalog/catalog.h"
#include "common/log.h"
#include "common/metrics.h"
#include "flight/internal.h"
#include "influxql/influxql.h"
#include "query/params_json.h"

namespace riffle::flight {
namespace {

// arrow.flight.protocol.FlightService, registered by hand (the generated service would make
// DoGet write protobuf FlightData, whose bodies protobuf copies): GetSchema, ListFlights,
// ListActions, DoExchange and PollFlightInfo are not registered, so gRPC answers UNIMPLEMENTED.
class Service final : public grpc::Service {
 public:
  explicit Service(FlightOptions options) : options_(std::move(options)), sql_(options_) {
    using grpc::internal::RpcMethod;
    using grpc::internal::RpcServiceMethod;
    const std::string prefix = "/arrow.flight.protocol.FlightService/";
    auto add = [&](const char* name, RpcMethod::RpcType type,
                   grpc::internal::MethodHandler* handler) {
      paths_.push_back(prefix + name);
      AddMethod(new RpcServiceMethod(paths_.back().c_str(), type, handler));
    };
    paths_.reserve(5);  // RpcServiceMethod keeps the name's pointer
    add("Handshake", RpcMethod::BIDI_STREAMING,
        new grpc::internal::BidiStreamingHandler<Service, pb::HandshakeRequest,
                                                 pb::HandshakeResponse>(
            [](Service* s, grpc::ServerContext* ctx,
               grpc::ServerReaderWriter<pb::HandshakeResponse, pb::HandshakeRequest>* stream) {
              return s->Handshake(ctx, stream);
            },
            this));
    add("GetFlightInfo", RpcMethod::NORMAL_RPC,
        new grpc::internal::RpcMethodHandler<Service, pb::FlightDescriptor, pb::FlightInfo,
                                             grpc::protobuf::MessageLite,
                                             grpc::protobuf::MessageLite>(
            [](Service* s, grpc::ServerContext* ctx, const pb::FlightDescriptor* d,
               pb::FlightInfo* info) { return s->GetFlightInfo(ctx, d, info); },
            this));
    add("DoGet", RpcMethod::SERVER_STREAMING,
        new grpc::internal::ServerStreamingHandler<Service, pb::Ticket, WireFlightData>(
            [](Service* s, grpc::ServerContext* ctx, const pb::Ticket* t,
               grpc::ServerWriter<WireFlightData>* w) { return s->DoGet(ctx, t, w); },
            this));
    add("DoPut", RpcMethod::BIDI_STREAMING,
        new grpc::internal::BidiStreamingHandler<Service, pb::FlightData, pb::PutResult>(
            [](Service* s, grpc::ServerContext* ctx,
               grpc::ServerReaderWriter<pb::PutResult, pb::FlightData>* stream) {
              return s->DoPut(ctx, stream);
            },
            this));
    add("DoAction", RpcMethod::SERVER_STREAMING,
        new grpc::internal::ServerStreamingHandler<Service, pb::Action, pb::Result>(
            [](Service* s, grpc::ServerContext* ctx, const pb::Action* a,
               grpc::ServerWriter<pb::Result>* w) { return s->DoAction(ctx, a, w); },
            this));
  }

  grpc::Status Handshake(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<pb::HandshakeResponse, pb::HandshakeRequest>* stream) {
    return Counted("Handshake", [&] { return Shake(ctx, stream); });
  }

  grpc::Status Shake(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<pb::HandshakeResponse, pb::HandshakeRequest>* stream) {
    if (auto st = CheckAuth(options_, *ctx); !st.ok()) return st;
    // JDBC and Grafana's Go client authenticate here and then send the returned header.
    if (auto token = auth::TokenOf(Header(*ctx, "authorization")))
      ctx->AddInitialMetadata("authorization", "Bearer " + *token);
    pb::HandshakeRequest request;
    if (stream->Read(&request)) {
      pb::HandshakeResponse response;
      response.set_protocol_version(request.protocol_version());
      response.set_payload(request.payload());
      stream->Write(response);
    }
    return grpc::Status::OK;
  }

  grpc::Status DoGet(grpc::ServerContext* ctx, const pb::Ticket* ticket,
                     grpc::ServerWriter<WireFlightData>* writer) {
    return Counted("DoGet", [&] { return Get(ctx, *ticket, writer); });
  }

  grpc::Status GetFlightInfo(grpc::ServerContext* ctx, const pb::FlightDescriptor* descriptor,
                             pb::FlightInfo* info) {
    return Counted("GetFlightInfo", [&] {
      if (auto st = CheckAuth(options_, *ctx); !st.ok()) return st;
      return sql_.GetFlightInfo(ctx, *descriptor, info);
    });
  }

  grpc::Status DoAction(grpc::ServerContext* ctx, const pb::Action* action,
                        grpc::ServerWriter<pb::Result>* writer) {
    return Counted("DoAction", [&] {
      if (auto st = CheckAuth(options_, *ctx); !st.ok()) return st;
      return sql_.DoAction(ctx, *action, writer);
    });
  }

  grpc::Status DoPut(grpc::ServerContext* ctx,
                     grpc::ServerReaderWriter<pb::PutResult, pb::FlightData>* stream) {
    return Counted("DoPut", [&] {
      if (auto st = CheckAuth(options_, *ctx); !st.ok()) return st;
      return sql_.DoPut(ctx, stream);
    });
  }

 private:
  grpc::Status Get(grpc::ServerContext* ctx, const pb::Ticket& ticket,
                   grpc::ServerWriter<WireFlightData>* writer) {
    auto caller = CallerOf(options_, *ctx);
    if (!caller.ok()) return {grpc::StatusCode::UNAUTHENTICATED, caller.status().message()};
    if (auto st = Authorize(*caller, *ctx, ""); !st.ok()) return st;  // the 'database' header, if any
    auto parsed = ParseTicket(ticket.ticket());
    if (!parsed.ok()) return ToGrpc(parsed.status());
    if (auto st = Authorize(*caller, *ctx, parsed->database, parsed->influxql ? &parsed->query : nullptr,
                            &parsed->params_json);
        !st.ok())
      return st;
    auto started = std::chrono::steady_clock::now();
    const char* language = parsed->influxql ? "influxql" : "sql";
    auto cancel = std::make_shared<query::Cancellation>();
    CallWatch watch(ctx, cancel);
    auto source = OpenTicket(options_, *parsed, cancel);
    if (parsed->flightsql_command.empty()) metrics::CountQuery(language, source.ok(), started);
    if (!source.ok()) return watch.Outcome(ToGrpc(source.status()));
    return watch.Outcome(SendStream(writer, **source, *cancel));
  }

  template <typename Call>
  static grpc::Status Counted(const char* method, Call call) {
    grpc::Status st = call();
    metrics::Server().flight_calls.With({method, GrpcCodeName(st.error_code())}).Add();
    return st;
  }

  static const char* GrpcCodeName(grpc::StatusCode code) {
    switch (code) {
      case grpc::StatusCode::OK:
        return "OK";
      case grpc::StatusCode::CANCELLED:
        return "CANCELLED";
      case grpc::StatusCode::INVALID_ARGUMENT:
        return "INVALID_ARGUMENT";
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return "DEADLINE_EXCEEDED";
      case grpc::StatusCode::NOT_FOUND:
        return "NOT_FOUND";
      case grpc::StatusCode::UNAUTHENTICATED:
        return "UNAUTHENTICATED";
      case grpc::StatusCode::UNIMPLEMENTED:
        return "UNIMPLEMENTED";
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
        return "RESOURCE_EXHAUSTED";
      case grpc::StatusCode::UNAVAILABLE:
        return "UNAVAILABLE";
      default:
        return "INTERNAL";
    }
  }

  FlightOptions options_;
  FlightSql sql_;
  std::vector<std::string> paths_;
};

class GrpcFlightServer final : public FlightServer {
 public:
  explicit GrpcFlightServer(FlightOptions options) : service_(std::move(options)) {}

  Status Start(int max_threads) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    grpc::ResourceQuota quota("flight");
    quota.SetMaxThreads(max_threads);
    builder.SetResourceQuota(quota);
    // A client that vanished without closing must not hold a call (and its query) forever.
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
    builder.SetMaxReceiveMessageSize(64 << 20);
    server_ = builder.BuildAndStart();
    if (!server_) return Status::Internal("cannot start the gRPC (Arrow Flight) server");
    return Status::Ok();
  }

  void Adopt(int fd) override {
    std::lock_guard lock(mu_);
    if (stopped_) {
      ::close(fd);
      return;
    }
    grpc::AddInsecureChannelFromFd(server_.get(), fd);
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
  }

  ~GrpcFlightServer() override { Stop(); }

 private:
  Service service_;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  bool stopped_ = false;
};

}  // namespace

std::string Header(const grpc::ServerContext& ctx, const std::string& name) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(name);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

grpc::Status ToGrpc(const Status& st) {
  if (st.ok()) return grpc::Status::OK;
  std::string message = st.message();
  if (message.size() > 2000) message.resize(2000);
  switch (st.code()) {
    case Code::kInvalidArgument:
      return {grpc::StatusCode::INVALID_ARGUMENT, message};
    case Code::kNotFound:
      return {grpc::StatusCode::NOT_FOUND, message};
    case Code::kAlreadyExists:
    case Code::kConflict:
      return {grpc::StatusCode::ALREADY_EXISTS, message};
    case Code::kLimitExceeded:
    case Code::kTooLarge:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, message};
    case Code::kUnauthenticated:
      return {grpc::StatusCode::UNAUTHENTICATED, message};
    case Code::kUnimplemented:
      return {grpc::StatusCode::UNIMPLEMENTED, message};
    case Code::kUnavailable:
      return {grpc::StatusCode::UNAVAILABLE, message};
    case Code::kTimeout:
      return {grpc::StatusCode::DEADLINE_EXCEEDED, message};
    case Code::kCancelled:
      return {grpc::StatusCode::CANCELLED, message};
    default:
      return {grpc::StatusCode::INTERNAL, message};
  }
}

Result<std::optional<auth::TokenInfo>> CallerOf(const FlightOptions& options, const grpc::ServerContext& ctx) {
  if (options.without_auth || !options.tokens || options.tokens->Empty()) return std::optional<auth::TokenInfo>();
  RIFFLE_ASSIGN_OR_RETURN(auth::TokenInfo who, auth::Authenticate(*options.tokens, Header(ctx, "authorization"), nullptr));
  return std::optional<auth::TokenInfo>(std::move(who));
}

grpc::Status Authorize(const std::optional<auth::TokenInfo>& caller, const grpc::ServerContext& ctx,
                       const std::string& database, const std::string* influxql,
                       const std::string* influxql_params_json) {
  if (!caller || caller->admin()) return grpc::Status::OK;
  if (influxql) {
    auto params = influxql::ParseBoundParams(influxql_params_json ? *influxql_params_json : "");
    Status st = influxql::CheckReadsOnlyItsDatabase(influxql::SplitStatements(*influxql),
                                                    params.ok() ? &*params : nullptr);
    if (!st.ok()) return {grpc::StatusCode::PERMISSION_DENIED, st.message()};
  }
  std::string db = database;
  if (auto header = DatabaseOf(ctx); db.empty() && header.ok()) db = *header;
  if (db.empty()) return grpc::Status::OK;
  Status st = auth::CheckDatabaseAccess(*caller, db, auth::kRead);
  return st.ok() ? grpc::Status::OK : grpc::Status(grpc::StatusCode::PERMISSION_DENIED, st.message());
}

grpc::Status CheckAuth(const FlightOptions& options, const grpc::ServerContext& ctx) {
  auto caller = CallerOf(options, ctx);
  if (!caller.ok()) return {grpc::StatusCode::UNAUTHENTICATED, caller.status().message()};
  return Authorize(*caller, ctx, "");
}

Result<std::unique_ptr<ArrowSource>> OpenTicket(const FlightOptions& options,
                                                const QueryTicket& ticket, CancelPtr cancel) {
  if (!ticket.flightsql_command.empty())
    return FlightSql(options).Metadata(ticket.database, ticket.flightsql_command);
  auto state = options.catalog->State();
  const catalog::Database* db = state->FindDatabase(ticket.database);
  if (!db) return Status::NotFound("database not found: " + ticket.database);
  if (ticket.influxql) {
    auto source =
        InfluxQLSource(*options.engine, state, *db, ticket.query, ticket.params_json, cancel);
    // A statement InfluxQL does not have is the client's error, as InfluxDB 3 answers it.
    if (!source.ok() && source.status().code() == Code::kUnimplemented)
      return Status::InvalidArgument(source.status().message());
    return source;
  }
  RIFFLE_ASSIGN_OR_RETURN(query::Params params,
                          query::ParamsFromJson(nlohmann::json::parse(ticket.params_json, nullptr, false)));
  RIFFLE_ASSIGN_OR_RETURN(auto stream, options.engine->QueryStream(*state, ticket.database,
                                                                   ticket.query, params, cancel));
  return SqlSource(std::move(stream), *db, ticket.query);
}

Result<std::unique_ptr<FlightServer>> FlightServer::Start(FlightOptions options) {
  int threads = options.max_threads;
  auto server = std::make_unique<GrpcFlightServer>(std::move(options));
  RIFFLE_RETURN_IF_ERROR(server->Start(threads));
  return std::unique_ptr<FlightServer>(std::move(server));
}

}  // namespace riffle::flight
