#include "query/statement_scope.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/text.h"

namespace riffle::query {
namespace {

using nlohmann::json;

// Table functions that read nothing but their arguments.
const std::set<std::string>& AllowedTableFunctions() {
  static const std::set<std::string> names = {
      "range",     "generate_series", "unnest",           "repeat",
      "json_each", "json_tree",       "pg_timezone_names"};
  return names;
}

// Scalar functions and macros that read the server's state rather than their arguments: the
// search path and schema names, settings and variables (the file lists of every database),
// the statement text, sequences, the log, and pg_catalog macros that query DuckDB's catalog.
bool ReadsServerState(const std::string& name) {
  static const std::set<std::string> names = {"getvariable",      "current_setting",
                                              "current_schema",   "current_schemas",
                                              "current_database", "current_catalog",
                                              "current_query",    "in_search_path",
                                              "currval",          "nextval",
                                              "write_log",        "get_block_size",
                                              "pg_get_viewdef",   "pg_get_constraintdef",
                                              "format_type",      "which_secret",
                                              "col_description",  "obj_description",
                                              "shobj_description"};
  return names.count(name) > 0 || name.rfind("duckdb_", 0) == 0 || name.rfind("pragma_", 0) == 0;
}

// current_setting('memory_limit') and the like: limits an operator set, not names or paths.
bool IsHarmlessSetting(const json& call) {
  static const std::set<std::string> names = {"memory_limit", "threads", "timezone",
                                              "max_temp_directory_size", "worker_threads"};
  const auto it = call.find("children");
  if (it == call.end() || !it->is_array() || it->size() != 1) return false;
  const json& arg = (*it)[0];
  if (!arg.is_object() || arg.value("class", "") != "CONSTANT" || !arg.contains("value"))
    return false;
  const json& v = arg["value"];
  return v.is_object() && v.contains("value") && v["value"].is_string() &&
         names.count(AsciiLower(v["value"].get<std::string>())) > 0;
}

// "catalog.schema.name" with the parts the reference has.
std::string Qualified(const json& ref, const char* catalog_key, const char* schema_key,
                      const std::string& name) {
  std::string out;
  for (const char* key : {catalog_key, schema_key})
    if (std::string part = StringAt(ref, key); !part.empty()) out += part + ".";
  return out + name;
}

class Checker {
 public:
  explicit Checker(const StatementScope& scope) : scope_(scope) {}

  Status Visit(const json& v) {
    if (v.is_array()) {
      for (const auto& item : v) RIFFLE_RETURN_IF_ERROR(Visit(item));
      return Status::Ok();
    }
    if (!v.is_object()) return Status::Ok();
    if (v.contains("cte_map")) return VisitWithCtes(v);
    if (v.contains("class")) return VisitExpression(v);
    if (v.contains("sample") && v.contains("type")) return VisitTableRef(v);
    if (StringAt(v, "type") == "RECURSIVE_CTE_NODE") return VisitRecursive(v);
    return VisitChildren(v);
  }

 private:
  Status VisitChildren(const json& obj, const char* skip = nullptr) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (skip && it.key() == skip) continue;
      RIFFLE_RETURN_IF_ERROR(Visit(it.value()));
    }
    return Status::Ok();
  }

  // A query node with its WITH clause: each CTE sees the ones defined before it, the rest of
  // the node sees them all.
  Status VisitWithCtes(const json& node) {
    const json& map = node["cte_map"];
    size_t pushed = 0;
    if (map.is_object() && map.contains("map") && map["map"].is_array()) {
      for (const auto& entry : map["map"]) {
        if (entry.is_object() && entry.contains("value"))
          RIFFLE_RETURN_IF_ERROR(Visit(entry["value"]));
        ctes_.push_back(AsciiLower(StringAt(entry, "key")));
        ++pushed;
      }
    }
    Status st = StringAt(node, "type") == "RECURSIVE_CTE_NODE" ? VisitRecursive(node)
                                                               : VisitChildren(node, "cte_map");
    ctes_.resize(ctes_.size() - pushed);
    return st;
  }

  // WITH RECURSIVE t AS (...): the node may name t.
  Status VisitRecursive(const json& node) {
    ctes_.push_back(AsciiLower(StringAt(node, "cte_name")));
    Status st = VisitChildren(node, "cte_map");
    ctes_.pop_back();
    return st;
  }

  Status VisitExpression(const json& expr) {
    if (StringAt(expr, "class") == "FUNCTION") {
      std::string name = AsciiLower(StringAt(expr, "function_name"));
      // Qualified names are let through (the parser itself writes [1, 2] as main.list_value):
      // no schema of a database holds functions, so only the name matters.
      if (name == "current_setting" && IsHarmlessSetting(expr)) return VisitChildren(expr);
      if (ReadsServerState(name))
        return Status::InvalidArgument(
            "function '" + name +
            "' is not available in queries: it reads the server's state, not the "
            "database's tables");
    }
    return VisitChildren(expr);
  }

  Status VisitTableRef(const json& ref) {
    const std::string type = StringAt(ref, "type");
    if (type == "BASE_TABLE") {
      std::string name = StringAt(ref, "table_name");
      std::string lower = AsciiLower(name);
      std::string catalog = AsciiLower(StringAt(ref, "catalog_name")),
                  schema = AsciiLower(StringAt(ref, "schema_name"));
      bool known =
          catalog.empty() && schema.empty() && (scope_.tables.count(lower) > 0 || IsCte(lower));
      bool temp = (catalog.empty() || catalog == "temp") && (schema.empty() || schema == "main");
      if (temp && scope_.virtual_tables.count(lower) > 0) known = true;
      if (!known)
        return Status::InvalidArgument(
            "table '" + Qualified(ref, "catalog_name", "schema_name", name) +
            "' does not exist in database '" + scope_.database +
            "': a query reads its database's tables (unqualified or as "
            "public.iox.<table>), system.* and information_schema.tables|columns");
      return VisitChildren(ref);
    }
    if (type == "TABLE_FUNCTION") {
      const json* fn = ref.contains("function") ? &ref["function"] : nullptr;
      std::string name = fn && fn->is_object() ? AsciiLower(StringAt(*fn, "function_name")) : "";
      bool qualified = fn && fn->is_object() &&
                       (!StringAt(*fn, "schema").empty() || !StringAt(*fn, "catalog").empty());
      if (qualified || AllowedTableFunctions().count(name) == 0)
        return Status::InvalidArgument(
            "table function '" + name +
            "' is not available: a query reads its database's tables; the table "
            "functions allowed are range, generate_series, unnest, repeat, "
            "json_each, json_tree and pg_timezone_names");
      for (auto it = fn->begin(); it != fn->end(); ++it) RIFFLE_RETURN_IF_ERROR(Visit(it.value()));
      return VisitChildren(ref, "function");
    }
    if (type == "SHOW_REF") {
      // DESCRIBE/SUMMARIZE of a query are checked through the query; SHOW ALL TABLES and
      // SHOW <name> list the whole DuckDB catalog.
      if (!ref.contains("query") || ref["query"].is_null())
        return Status::InvalidArgument(
            "this SHOW statement is not available: use SHOW TABLES, SHOW COLUMNS FROM <table> or "
            "DESCRIBE <table>");
      return VisitChildren(ref);
    }
    if (type == "JOIN" || type == "SUBQUERY" || type == "EXPRESSION_LIST" || type == "EMPTY" ||
        type == "PIVOT")
      return VisitChildren(ref);
    return Status::InvalidArgument(
        "a table reference of kind " + type +
        " is not available in queries: expected tables, subqueries, joins or "
        "VALUES");
  }

  bool IsCte(const std::string& name) const {
    for (const auto& c : ctes_)
      if (c == name) return true;
    return false;
  }

  const StatementScope& scope_;
  std::vector<std::string> ctes_;
};

}  // namespace

Status CheckStatementScope(const json& tree, const StatementScope& scope) {
  return Checker(scope).Visit(tree);
}

std::string WithoutExplain(const std::string& sql) {
  size_t i = 0, n = sql.size();
  auto skip_space = [&] {
    for (;;) {
      while (i < n && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
      if (i + 1 < n && sql[i] == '-' && sql[i + 1] == '-') {
        while (i < n && sql[i] != '\n') ++i;
      } else if (i + 1 < n && sql[i] == '/' && sql[i + 1] == '*') {
        size_t close = sql.find("*/", i + 2);
        i = close == std::string::npos ? n : close + 2;
      } else {
        return;
      }
    }
  };
  auto word = [&](const char* w) {
    size_t len = std::char_traits<char>::length(w);
    if (i + len > n) return false;
    for (size_t k = 0; k < len; ++k)
      if (std::tolower(static_cast<unsigned char>(sql[i + k])) != w[k]) return false;
    if (i + len < n &&
        (std::isalnum(static_cast<unsigned char>(sql[i + len])) || sql[i + len] == '_'))
      return false;
    i += len;
    return true;
  };
  skip_space();
  if (!word("explain")) return sql;
  skip_space();
  if (word("analyze") || word("analyse")) skip_space();
  if (i < n && sql[i] == '(') {
    size_t close = sql.find(')', i);
    if (close == std::string::npos) return sql;
    i = close + 1;
  }
  return sql.substr(i);
}

std::string StringAt(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool IsNullOrAbsent(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null();
}

bool AnyObjectIn(const json& j, const std::function<bool(const json&)>& matches) {
  if (j.is_object()) {
    if (matches(j)) return true;
    for (const auto& [key, value] : j.items())
      if (AnyObjectIn(value, matches)) return true;
  } else if (j.is_array()) {
    for (const auto& value : j)
      if (AnyObjectIn(value, matches)) return true;
  }
  return false;
}

std::optional<json> ParseOneStatement(duck::Connection& conn, const std::string& sql) {
  auto text = conn.ParseTreeJson(sql);
  if (!text.ok()) return std::nullopt;
  json tree = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (tree.is_discarded() || tree.value("error", false) || !tree.contains("statements") ||
      !tree["statements"].is_array() || tree["statements"].size() != 1)
    return std::nullopt;
  return std::move(tree["statements"][0]);
}

}  // namespace riffle::query
