// Client subcommands for data and databases: write, query, create/show/delete database|table.
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/client_common.h"
#include "cli/http_client.h"

namespace riffle::cli {

using nlohmann::json;

std::string ReadAll(std::istream& in) {
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot read file '" + path + "'");
  return ReadAll(f);
}

int Fail(const std::string& message) {
  std::cerr << "Error: " << message << "\n";
  return 1;
}

int Call(const ClientOptions& opts, const std::string& method, const std::string& path, const std::string& body,
         const std::string& content_type, const std::string& success_message, std::string* out_body) {
  auto r = HttpCall(opts, method, path, body, content_type);
  if (!r.ok()) return Fail(r.status().message());
  if (r->status >= 300) return Fail(ErrorMessage(*r));
  if (out_body) *out_body = r->body;
  if (!success_message.empty()) std::cout << success_message << "\n";
  return 0;
}

namespace {

// Fills an option from its environment variable when the command line did not set it.
void FillFromEnvironment(const CLI::Option* option, const char* variable, std::string* target) {
  if (option->count() > 0) return;
  const char* value = std::getenv(variable);
  if (value != nullptr && *value != '\0') *target = value;
}

}  // namespace

// The variables are applied here, once the subcommand that runs is parsed, rather than with
// CLI11's envname(): CLI11 applies envname() to every subcommand, parsed or not, and the
// subcommands of a group share their argument structs, so a variable read for an unused
// subcommand overwrote the flag given to the used one (a delete went to the server in
// INFLUXDB3_HOST_URL instead of the one in -H).
void AddCommonOptions(CLI::App* cmd, ClientOptions* opts, std::string* database, bool database_required) {
  CLI::Option* host = cmd->add_option("-H,--host", opts->host, "URL of the server (env: INFLUXDB3_HOST_URL)");
  CLI::Option* token = cmd->add_option("--token", opts->token, "authentication token (env: INFLUXDB3_AUTH_TOKEN)");
  CLI::Option* ca = cmd->add_option("--tls-ca", opts->tls_ca,
                                    "PEM CA bundle to verify an https:// server with (env: INFLUXDB3_TLS_CA)");
  CLI::Option* no_verify = cmd->add_flag("--tls-no-verify", opts->tls_no_verify,
                                         "do not verify the server's certificate (env: INFLUXDB3_TLS_NO_VERIFY)");
  CLI::Option* db = nullptr;
  if (database) db = cmd->add_option("-d,--database", *database, "database name (env: INFLUXDB3_DATABASE_NAME)");
  cmd->parse_complete_callback([=] {
    FillFromEnvironment(host, "INFLUXDB3_HOST_URL", &opts->host);
    FillFromEnvironment(token, "INFLUXDB3_AUTH_TOKEN", &opts->token);
    FillFromEnvironment(ca, "INFLUXDB3_TLS_CA", &opts->tls_ca);
    if (no_verify->count() == 0) {
      const char* v = std::getenv("INFLUXDB3_TLS_NO_VERIFY");
      opts->tls_no_verify = v && (std::string(v) == "true" || std::string(v) == "1");
    }
    if (db == nullptr) return;
    FillFromEnvironment(db, "INFLUXDB3_DATABASE_NAME", database);
    if (database_required && database->empty())
      throw CLI::RequiredError("--database (or INFLUXDB3_DATABASE_NAME)");
  });
}

namespace {

struct WriteArgs {
  ClientOptions opts;
  std::string database, file, precision, line;
  bool accept_partial = false, no_sync = false, gzip = false;
};

int RunWrite(const WriteArgs& a) {
  std::string body;
  if (!a.file.empty()) {
    auto contents = ReadFile(a.file);
    if (!contents.ok()) return Fail(contents.status().message());
    body = std::move(contents).value();
  } else if (!a.line.empty()) {
    body = a.line;
  } else {
    body = ReadAll(std::cin);
  }
  std::string path = "/api/v3/write_lp?db=" + UrlEncode(a.database);
  if (!a.precision.empty()) path += "&precision=" + UrlEncode(a.precision);
  if (a.accept_partial) path += "&accept_partial=true";
  if (a.no_sync) path += "&no_sync=true";
  std::vector<std::string> headers;
  if (a.gzip) {
    uLongf bound = compressBound(body.size()) + 32;
    std::string gz(bound, '\0');
    z_stream zs{};
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = reinterpret_cast<Bytef*>(body.data());
    zs.avail_in = static_cast<uInt>(body.size());
    zs.next_out = reinterpret_cast<Bytef*>(gz.data());
    zs.avail_out = static_cast<uInt>(gz.size());
    deflate(&zs, Z_FINISH);
    gz.resize(zs.total_out);
    deflateEnd(&zs);
    body = std::move(gz);
    headers.push_back("Content-Encoding: gzip");
  }
  auto r = HttpCall(a.opts, "POST", path, body, "text/plain; charset=utf-8", headers);
  if (!r.ok()) return Fail(r.status().message());
  if (r->status >= 300) return Fail(ErrorMessage(*r));
  std::cout << "success\n";
  return 0;
}

struct QueryArgs {
  ClientOptions opts;
  std::string database, format = "pretty", output, file, language = "sql", query;
};

int RunQuery(const QueryArgs& a) {
  std::string sql = a.query;
  if (!a.file.empty()) {
    auto contents = ReadFile(a.file);
    if (!contents.ok()) return Fail(contents.status().message());
    sql = std::move(contents).value();
  } else if (sql.empty()) {
    sql = ReadAll(std::cin);
  }
  if (a.language != "sql" && a.language != "influxql")
    return Fail("query language '" + a.language + "' is not supported: expected sql or influxql");
  if (a.format == "parquet" && a.output.empty() && isatty(STDOUT_FILENO))
    return Fail("the parquet format writes binary output: use -o/--output FILE");
  json body = {{"db", a.database}, {"q", sql}, {"format", a.format}};
  auto r = HttpCall(a.opts, "POST", a.language == "sql" ? "/api/v3/query_sql" : "/api/v3/query_influxql", body.dump(),
                    "application/json");
  if (!r.ok()) return Fail(r.status().message());
  if (r->status >= 300) return Fail(ErrorMessage(*r));
  if (!a.output.empty()) {
    std::ofstream out(a.output, std::ios::binary);
    if (!out) return Fail("cannot write output file '" + a.output + "'");
    out << r->body;
    return 0;
  }
  std::cout << r->body;
  if (!r->body.empty() && r->body.back() != '\n') std::cout << "\n";
  return 0;
}

}  // namespace

void RegisterDataCommands(CLI::App& app, std::function<int()>* action) {
  auto w = std::make_shared<WriteArgs>();
  CLI::App* write = app.add_subcommand("write", "Write line protocol to a database (from an argument, -f FILE or stdin)");
  write->alias("w");
  AddCommonOptions(write, &w->opts, &w->database, true);
  write->add_option("-f,--file", w->file, "file of line protocol");
  write->add_option("-p,--precision", w->precision, "auto, s, ms, us or ns");
  write->add_flag("--accept-partial", w->accept_partial, "store the good lines when some are bad");
  write->add_flag("--no-sync", w->no_sync, "acknowledge before the WAL flush");
  write->add_flag("--gzip", w->gzip, "gzip the request body");
  write->add_option("line_protocol", w->line, "line protocol to write");
  write->callback([w, action] { *action = [w] { return RunWrite(*w); }; });

  auto q = std::make_shared<QueryArgs>();
  CLI::App* query = app.add_subcommand("query", "Run a SQL query against a database");
  query->alias("q");
  AddCommonOptions(query, &q->opts, &q->database, true);
  query->add_option("--format", q->format, "pretty, json, jsonl, csv or parquet")
      ->check(CLI::IsMember({"pretty", "json", "jsonl", "csv", "parquet"}));
  query->add_option("-o,--output", q->output, "write the result to FILE");
  query->add_option("-f,--file", q->file, "read the query from FILE");
  query->add_option("-l,--language", q->language, "query language (sql or influxql)");
  query->add_option("query", q->query, "the SQL query (stdin when absent)");
  query->callback([q, action] { *action = [q] { return RunQuery(*q); }; });
}

}  // namespace riffle::cli
