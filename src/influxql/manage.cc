// InfluxQL management statements mapped onto Riffle's catalog: databases, measurements, and
// retention policies (a database has one retention period, which every policy statement
// sets); users and grants do not exist (InfluxDB 3 has tokens), so they list nothing.
#include "influxql/manage.h"

#include <cctype>

#include "common/text.h"

namespace riffle::influxql {
namespace {

std::string AsciiUpper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// NAME: a bare or "quoted" identifier.
Result<std::string> Name(const std::vector<Token>& t, size_t* pos, const char* what) {
  if (*pos >= t.size() || !IsName(t[*pos]))
    return Status::InvalidArgument(std::string("error parsing query: expected ") + what);
  return t[(*pos)++].text;
}

bool Keyword(const std::vector<Token>& t, size_t* pos, std::string_view kw) {
  if (*pos < t.size() && t[*pos].IsKeyword(kw)) {
    ++*pos;
    return true;
  }
  return false;
}

// DURATION <d> | INF: nullopt for INF (keep everything).
Result<std::optional<int64_t>> Duration(const std::vector<Token>& t, size_t* pos) {
  if (Keyword(t, pos, "INF")) return std::optional<int64_t>();
  if (*pos < t.size() && t[*pos].type == TokenType::kDuration) {
    int64_t ns = t[(*pos)++].duration_ns;
    if (ns == 0) return std::optional<int64_t>();  // 0s means infinite in InfluxDB 1.x
    return std::optional<int64_t>(ns);
  }
  return Status::InvalidArgument(
      "error parsing query: expected a duration (e.g. 30d) or INF after DURATION");
}

Status End(const std::vector<Token>& t, size_t pos) {
  if (pos < t.size() && t[pos].type != TokenType::kEnd)
    return Status::InvalidArgument("error parsing query: unexpected '" + t[pos].text + "'");
  return Status::Ok();
}

// The clauses of CREATE|ALTER RETENTION POLICY after ON <db>: DURATION, REPLICATION, SHARD
// DURATION, DEFAULT (only the duration has a meaning here).
Result<std::optional<std::optional<int64_t>>> PolicyClauses(const std::vector<Token>& t,
                                                            size_t* pos) {
  std::optional<std::optional<int64_t>> duration;
  while (*pos < t.size() && t[*pos].type != TokenType::kEnd) {
    if (Keyword(t, pos, "DURATION")) {
      RIFFLE_ASSIGN_OR_RETURN(auto d, Duration(t, pos));
      duration = d;
    } else if (Keyword(t, pos, "REPLICATION")) {
      if (*pos >= t.size() || t[*pos].type != TokenType::kNumber)
        return Status::InvalidArgument("error parsing query: expected a number after REPLICATION");
      ++*pos;
    } else if (Keyword(t, pos, "SHARD")) {
      if (!Keyword(t, pos, "DURATION"))
        return Status::InvalidArgument("error parsing query: expected SHARD DURATION");
      RIFFLE_RETURN_IF_ERROR(Duration(t, pos).status());
    } else if (!Keyword(t, pos, "DEFAULT")) {
      return Status::InvalidArgument("error parsing query: unexpected '" + t[*pos].text + "'");
    }
  }
  return duration;
}

}  // namespace

bool IsManagement(const std::vector<Token>& t) {
  return t[0].IsKeyword("CREATE") || t[0].IsKeyword("DROP") || t[0].IsKeyword("ALTER") ||
         t[0].IsKeyword("DELETE") || t[0].IsKeyword("GRANT") || t[0].IsKeyword("REVOKE") ||
         (t[0].IsKeyword("SHOW") && t.size() > 1 &&
          (t[1].IsKeyword("USERS") || t[1].IsKeyword("GRANTS")));
}

Result<StatementResult> RunManagement(const std::vector<Token>& t, const std::string& request_db,
                                      catalog::Catalog* catalog) {
  StatementResult none;
  size_t pos = 1;
  if (t[0].IsKeyword("SHOW")) {
    if (t[1].IsKeyword("USERS")) none.series.push_back(Series{"", {}, {"user", "admin"}, {}});
    // InfluxDB 1.x lists no series for a user without grants; Riffle has no users at all.
    return none;
  }
  if (!catalog) return Status::Unimplemented("InfluxQL: this endpoint does not change the catalog");
  std::string verb = AsciiLower(t[0].text);
  std::string object = t.size() > 1 ? AsciiLower(t[1].text) : "";
  if ((verb == "create" || verb == "drop") && object == "database") {
    pos = 2;
    RIFFLE_ASSIGN_OR_RETURN(std::string name, Name(t, &pos, "a database name"));
    if (verb == "drop") {
      RIFFLE_RETURN_IF_ERROR(End(t, pos));
      Status st = catalog->DeleteDatabase(name);
      return st.code() == Code::kNotFound
                 ? none
                 : (st.ok() ? Result<StatementResult>(none) : st);  // 1.x: no error
    }
    std::optional<int64_t> retention;
    if (Keyword(t, &pos, "WITH")) {
      while (pos < t.size() && t[pos].type != TokenType::kEnd) {
        if (Keyword(t, &pos, "DURATION")) {
          RIFFLE_ASSIGN_OR_RETURN(retention, Duration(t, &pos));
        } else if (Keyword(t, &pos, "REPLICATION")) {
          ++pos;
        } else if (Keyword(t, &pos, "SHARD")) {
          Keyword(t, &pos, "DURATION");
          RIFFLE_RETURN_IF_ERROR(Duration(t, &pos).status());
        } else if (Keyword(t, &pos, "NAME")) {
          RIFFLE_RETURN_IF_ERROR(Name(t, &pos, "a retention policy name").status());
        } else {
          return Status::InvalidArgument("error parsing query: unexpected '" + t[pos].text + "'");
        }
      }
    }
    RIFFLE_RETURN_IF_ERROR(End(t, pos));
    Status st = catalog->CreateDatabase(name, retention);
    // InfluxDB 1.x: creating a database that exists is not an error.
    if (st.code() == Code::kAlreadyExists) return none;
    if (!st.ok()) return st;
    return none;
  }
  if (verb == "drop" && object == "measurement") {
    pos = 2;
    RIFFLE_ASSIGN_OR_RETURN(std::string name, Name(t, &pos, "a measurement name"));
    RIFFLE_RETURN_IF_ERROR(End(t, pos));
    if (request_db.empty()) return Status::InvalidArgument("database name required: pass db=…");
    RIFFLE_RETURN_IF_ERROR(catalog->DeleteTable(request_db, name));
    return none;
  }
  if ((verb == "create" || verb == "alter" || verb == "drop") && object == "retention") {
    pos = 2;
    if (!Keyword(t, &pos, "POLICY"))
      return Status::InvalidArgument("error parsing query: expected POLICY");
    RIFFLE_RETURN_IF_ERROR(Name(t, &pos, "a retention policy name").status());
    if (!Keyword(t, &pos, "ON"))
      return Status::InvalidArgument("error parsing query: expected ON <database>");
    RIFFLE_ASSIGN_OR_RETURN(std::string db, Name(t, &pos, "a database name"));
    if (verb == "drop") {
      RIFFLE_RETURN_IF_ERROR(End(t, pos));
      RIFFLE_RETURN_IF_ERROR(catalog->SetRetention(db, std::nullopt));
      return none;
    }
    RIFFLE_ASSIGN_OR_RETURN(auto duration, PolicyClauses(t, &pos));
    if (verb == "create" && !duration)
      return Status::InvalidArgument("error parsing query: expected DURATION");
    if (duration) RIFFLE_RETURN_IF_ERROR(catalog->SetRetention(db, *duration));
    return none;
  }
  if (verb == "drop" && (object == "series" || object == "shard"))
    return Status::Unimplemented(
        "InfluxQL: DROP " + AsciiUpper(object) +
        " is not supported (use DROP MEASUREMENT, or the retention period)");
  if (verb == "delete")
    return Status::Unimplemented(
        "InfluxQL: DELETE runs on /query (InfluxDB 1.x's endpoint); or use influxdb3 delete rows");
  return Status::Unimplemented(
      "InfluxQL: " + AsciiUpper(verb) + " " + AsciiUpper(object) +
      " is not supported (supported: SELECT, SHOW, CREATE|DROP DATABASE, DROP MEASUREMENT, "
      "CREATE|ALTER|DROP RETENTION POLICY)");
}

}  // namespace riffle::influxql
