// Tickets: the UTF-8 JSON the InfluxDB 3 client libraries send, which Riffle's own Flight SQL
// tickets extend with a metadata command.
#include <nlohmann/json.hpp>

#include "flight/internal.h"

namespace riffle::flight {
namespace {

const char* kExpected =
    "expected UTF-8 JSON {\"database\": \"...\", \"sql_query\": \"...\", \"query_type\": \"sql\" | "
    "\"influxql\", "
    "\"params\": {...}}";

std::string Hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

Result<std::string> Unhex(const std::string& hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2) return Status::InvalidArgument("invalid ticket: odd-length command");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("invalid ticket: command is not hex");
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace

Result<QueryTicket> ParseTicket(const std::string& bytes) {
  nlohmann::json j = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument(std::string("invalid ticket: ") + kExpected);
  QueryTicket t;
  // InfluxDB 3 accepts these spellings of the database key.
  for (const char* key : {"database", "namespace_name", "bucket", "bucket-name"})
    if (j.contains(key) && j[key].is_string()) t.database = j[key].get<std::string>();
  if (j.contains("flightsql_command") && j["flightsql_command"].is_string()) {
    RIFFLE_ASSIGN_OR_RETURN(t.flightsql_command, Unhex(j["flightsql_command"].get<std::string>()));
    return t;
  }
  if (t.database.empty())
    return Status::InvalidArgument(std::string("invalid ticket: no \"database\": ") + kExpected);
  if (!j.contains("sql_query") || !j["sql_query"].is_string())
    return Status::InvalidArgument(std::string("invalid ticket: no \"sql_query\": ") + kExpected);
  t.query = j["sql_query"].get<std::string>();
  if (j.contains("query_type") && !j["query_type"].is_null()) {
    std::string type =
        j["query_type"].is_string() ? j["query_type"].get<std::string>() : j["query_type"].dump();
    if (type == "influxql")
      t.influxql = true;
    else if (type != "sql")
      return Status::InvalidArgument(
          "invalid ticket: unknown query type. Expected 'sql' or 'influxql', got '" + type + "'");
  }
  if (j.contains("params") && !j["params"].is_null()) {
    if (!j["params"].is_object())
      return Status::InvalidArgument(
          "invalid ticket: \"params\" must be a JSON object of name → value");
    t.params_json = j["params"].dump();
  }
  return t;
}

std::string EncodeTicket(const QueryTicket& t) {
  nlohmann::json j = {{"database", t.database}};
  if (!t.flightsql_command.empty()) {
    j["flightsql_command"] = Hex(t.flightsql_command);
  } else {
    j["sql_query"] = t.query;
    j["query_type"] = t.influxql ? "influxql" : "sql";
    j["params"] = nlohmann::json::parse(t.params_json, nullptr, false);
  }
  return j.dump();
}

}  // namespace riffle::flight
