#include "query/last_point.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "common/text.h"
#include "duck/duck.h"
#include "query/statement_scope.h"
#include "query/time_bounds.h"

namespace riffle::query {
namespace {

using nlohmann::json;

constexpr const char* kWherePlaceholder = "__riffle_where";

bool IsEmptyArray(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() || (it->is_array() && it->empty());
}

// Whether an expression holds a subquery or a window function anywhere.
bool HasSubqueryOrWindow(const json& j) {
  return AnyObjectIn(j, [](const json& node) {
    std::string cls = StringAt(node, "class");
    return cls == "SUBQUERY" || cls == "WINDOW";
  });
}

// The column a reference names when it is a plain column of the table known in the statement
// as `qualifier` (lower-cased): its name as written, or nothing.
std::optional<std::string> ColumnOf(const json& e, const std::string& qualifier) {
  if (!e.is_object() || StringAt(e, "class") != "COLUMN_REF") return std::nullopt;
  auto names = e.find("column_names");
  if (names == e.end() || !names->is_array()) return std::nullopt;
  for (const auto& n : *names)
    if (!n.is_string()) return std::nullopt;
  if (names->size() == 1) return (*names)[0].get<std::string>();
  if (names->size() == 2 && AsciiLower((*names)[0].get<std::string>()) == qualifier)
    return (*names)[1].get<std::string>();
  return std::nullopt;
}

// Whether the select list only passes the table's columns on, without a name that could take
// the place of a key or of `time` where DISTINCT ON and ORDER BY look names up.
bool SelectListPassesColumns(const json& list, const std::string& qualifier,
                             const std::set<std::string>& reserved) {
  if (!list.is_array() || list.empty()) return false;
  for (const auto& item : list) {
    std::string cls = StringAt(item, "class");
    std::string alias = AsciiLower(StringAt(item, "alias"));
    // A column named as itself ("time" AS "time", as InfluxQL's translation writes) shadows
    // nothing.
    auto column = cls == "COLUMN_REF" ? ColumnOf(item, qualifier) : std::nullopt;
    bool as_itself = column && AsciiLower(*column) == alias;
    if (!alias.empty() && reserved.count(alias) && !as_itself) return false;
    if (cls == "STAR") {
      std::string relation = AsciiLower(StringAt(item, "relation_name"));
      if (!relation.empty() && relation != qualifier) return false;
      if (!IsEmptyArray(item, "replace_list") || !IsEmptyArray(item, "rename_list") ||
          !IsNullOrAbsent(item, "expr") || item.value("columns", false))
        return false;
    } else if (cls == "COLUMN_REF") {
      if (!ColumnOf(item, qualifier)) return false;
    } else if (cls == "CAST") {
      if (!item.contains("child") || !ColumnOf(item["child"], qualifier)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Replaces every reference to the placeholder column `placeholder` by `where`.
void PutWhere(json& j, const json& where, const char* placeholder = kWherePlaceholder) {
  if (j.is_object()) {
    if (StringAt(j, "class") == "COLUMN_REF") {
      auto names = j.find("column_names");
      if (names != j.end() && names->is_array() && names->size() == 1 &&
          (*names)[0] == placeholder) {
        j = where;
        return;
      }
    }
    for (auto& [key, value] : j.items()) PutWhere(value, where, placeholder);
  } else if (j.is_array()) {
    for (auto& value : j) PutWhere(value, where, placeholder);
  }
}

void Conjuncts(const json& e, std::vector<json>* out) {
  if (StringAt(e, "type") == "CONJUNCTION_AND") {
    for (const auto& child : e.value("children", json::array())) Conjuncts(child, out);
    return;
  }
  out->push_back(e);
}

// Whether a condition decides each row from that row's columns alone, the same way on every run:
// comparisons, AND/OR/NOT, IN, IS NULL, BETWEEN and a few string functions of the table's plain
// columns (collected, lower-cased, in `columns`), literals and casts; no parameter, clock or
// subquery.
bool IsRowCondition(const json& e, const std::string& qualifier, std::set<std::string>* columns) {
  if (!e.is_object()) return false;
  const std::string cls = StringAt(e, "class");
  auto all = [&](const json& list) {
    return list.is_array() && std::all_of(list.begin(), list.end(), [&](const json& c) {
             return IsRowCondition(c, qualifier, columns);
           });
  };
  if (cls == "CONSTANT") return true;
  if (cls == "COLUMN_REF") {
    auto column = ColumnOf(e, qualifier);
    if (!column) return false;
    columns->insert(AsciiLower(*column));
    return true;
  }
  if (cls == "CAST") return e.contains("child") && IsRowCondition(e["child"], qualifier, columns);
  if (cls == "COMPARISON")
    return IsRowCondition(e.value("left", json()), qualifier, columns) &&
           IsRowCondition(e.value("right", json()), qualifier, columns);
  if (cls == "BETWEEN")
    return IsRowCondition(e.value("input", json()), qualifier, columns) &&
           IsRowCondition(e.value("lower", json()), qualifier, columns) &&
           IsRowCondition(e.value("upper", json()), qualifier, columns);
  if (cls == "CONJUNCTION") return all(e.value("children", json::array()));
  if (cls == "OPERATOR") {
    static const std::set<std::string> kOperators = {"OPERATOR_NOT", "COMPARE_IN", "COMPARE_NOT_IN",
                                                     "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL"};
    return kOperators.count(StringAt(e, "type")) > 0 && all(e.value("children", json::array()));
  }
  if (cls == "FUNCTION") {
    static const std::set<std::string> kFunctions = {
        "~~",     "!~~",    "~~*",       "!~~*",     "lower",          "upper", "starts_with",
        "prefix", "suffix", "ends_with", "contains", "regexp_matches", "length"};
    if (!IsNullOrAbsent(e, "filter") || e.value("distinct", false) ||
        !StringAt(e, "schema").empty() ||
        !kFunctions.count(AsciiLower(StringAt(e, "function_name"))))
      return false;
    if (auto ob = e.find("order_bys");
        ob != e.end() && ob->is_object() && ob->contains("orders") && !(*ob)["orders"].empty())
      return false;
    return all(e.value("children", json::array()));
  }
  return false;
}

// A parse tree without where its parts were in the text: the same condition, the same key.
json WithoutLocations(json j) {
  if (j.is_object()) {
    j.erase("query_location");
    for (auto& [key, value] : j.items()) value = WithoutLocations(std::move(value));
  } else if (j.is_array()) {
    for (auto& value : j) value = WithoutLocations(std::move(value));
  }
  return j;
}

}  // namespace

std::optional<json> LastPointTree(
    const json& statement, const std::function<bool(const std::string&)>& is_table,
    const std::function<std::optional<json>(const std::string&)>& parse, LastPointShape* shape) {
  if (!statement.is_object() || !statement.contains("node")) return std::nullopt;
  const json& node = statement["node"];
  if (StringAt(node, "type") != "SELECT_NODE") return std::nullopt;
  if (!IsEmptyArray(node, "group_expressions") || !IsEmptyArray(node, "group_sets") ||
      !IsNullOrAbsent(node, "having") || !IsNullOrAbsent(node, "qualify") ||
      !IsNullOrAbsent(node, "sample") ||
      StringAt(node, "aggregate_handling") != "STANDARD_HANDLING")
    return std::nullopt;
  if (node.contains("cte_map") && !IsEmptyArray(node["cte_map"], "map")) return std::nullopt;

  const json& from = node.value("from_table", json());
  if (StringAt(from, "type") != "BASE_TABLE" || !IsNullOrAbsent(from, "sample") ||
      !IsNullOrAbsent(from, "at_clause") || !IsEmptyArray(from, "column_name_alias") ||
      !StringAt(from, "schema_name").empty() || !StringAt(from, "catalog_name").empty())
    return std::nullopt;
  const std::string table = StringAt(from, "table_name");
  if (table.empty() || !is_table(AsciiLower(table))) return std::nullopt;
  const std::string name_in_statement =
      StringAt(from, "alias").empty() ? table : StringAt(from, "alias");
  const std::string qualifier = AsciiLower(name_in_statement);

  // DISTINCT ON the keys, ORDER BY the keys then time DESC, and at most a LIMIT.
  static const json kNoModifiers = json::array();
  const json& modifiers = node.contains("modifiers") ? node.at("modifiers") : kNoModifiers;
  if (!modifiers.is_array()) return std::nullopt;
  const json* distinct = nullptr;
  const json* order = nullptr;
  for (const auto& m : modifiers) {
    std::string type = StringAt(m, "type");
    if (type == "DISTINCT_MODIFIER" && !distinct)
      distinct = &m;
    else if (type == "ORDER_MODIFIER" && !order)
      order = &m;
    else if (type != "LIMIT_MODIFIER" && type != "LIMIT_PERCENT_MODIFIER")
      return std::nullopt;
  }
  if (!distinct || !order) return std::nullopt;
  const json& targets = distinct->value("distinct_on_targets", json::array());
  if (!targets.is_array() || targets.empty()) return std::nullopt;
  std::vector<std::string> keys;  // as written
  std::set<std::string> key_set;  // lower-cased
  for (const auto& t : targets) {
    auto column = ColumnOf(t, qualifier);
    if (!column || AsciiLower(*column) == "time" || !key_set.insert(AsciiLower(*column)).second)
      return std::nullopt;
    keys.push_back(*column);
  }
  const json& orders = order->value("orders", json::array());
  if (!orders.is_array() || orders.size() < keys.size() + 1) return std::nullopt;
  std::set<std::string> ordered;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto column = ColumnOf(orders[i].value("expression", json()), qualifier);
    if (!column || !key_set.count(AsciiLower(*column))) return std::nullopt;
    ordered.insert(AsciiLower(*column));
  }
  if (ordered != key_set) return std::nullopt;
  const json& by_time = orders[keys.size()];
  auto time = ColumnOf(by_time.value("expression", json()), qualifier);
  if (!time || AsciiLower(*time) != "time" || StringAt(by_time, "type") != "DESCENDING")
    return std::nullopt;

  std::set<std::string> reserved = key_set;
  reserved.insert("time");
  if (!SelectListPassesColumns(node.value("select_list", json()), qualifier, reserved))
    return std::nullopt;
  const json where = node.value("where_clause", json());
  if (HasSubqueryOrWindow(where)) return std::nullopt;

  // The rows at their key's newest time (among those the WHERE clause keeps), as a subquery
  // that goes by the table's name in the statement.
  const std::string t = duck::QuoteIdent(table);
  const std::string q = duck::QuoteIdent(name_in_statement);
  const std::string filter = where.is_null() ? "" : std::string(" WHERE ") + kWherePlaceholder;
  std::string newest = "SELECT ";
  std::string on;
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string key = q + "." + duck::QuoteIdent(keys[i]);
    std::string alias = "__riffle_key_" + std::to_string(i);
    newest += key + " AS " + alias + ", ";
    on += key + " IS NOT DISTINCT FROM __riffle_newest_rows." + alias + " AND ";
  }
  newest += "max(" + q + ".\"time\") AS __riffle_newest FROM " + t + " AS " + q + filter +
            " GROUP BY ALL";
  on += q + ".\"time\" = __riffle_newest_rows.__riffle_newest";
  std::string subquery = "SELECT * FROM (SELECT " + q + ".* FROM " + t + " AS " + q +
                         " SEMI JOIN (" + newest + ") AS __riffle_newest_rows ON " + on + filter +
                         ") AS " + q;
  auto parsed = parse(subquery);
  if (!parsed || !parsed->contains("node") || !(*parsed)["node"].contains("from_table"))
    return std::nullopt;
  json replacement = (*parsed)["node"]["from_table"];
  if (!where.is_null()) PutWhere(replacement, where);

  if (shape) {
    shape->table = AsciiLower(table);
    shape->keys.assign(key_set.begin(), key_set.end());
    // Lower bounds on time keep a key's newest row or none of its rows; other conditions on a
    // row's own columns make the bound one of the rows they keep.
    std::vector<json> conditions;
    if (!where.is_null()) {
      std::vector<json> conjuncts;
      Conjuncts(where, &conjuncts);
      for (const auto& c : conjuncts) {
        if (IsLowerTimeBound(c, qualifier)) continue;
        if (!IsRowCondition(c, qualifier, &shape->filter_columns)) shape->filtered = true;
        conditions.push_back(c);
      }
    }
    if (!shape->filtered) {
      // The statement that finds the bound: rows found, and min over the keys of max(time)
      // among the rows the conditions keep.
      std::string placeholders;
      for (size_t i = 0; i < conditions.size(); ++i)
        placeholders +=
            std::string(i ? " AND " : " WHERE ") + kWherePlaceholder + std::to_string(i);
      std::string keys_sql;
      for (const auto& k : keys)
        keys_sql += (keys_sql.empty() ? "" : ", ") + q + "." + duck::QuoteIdent(k);
      auto finding =
          parse("SELECT count(*), coalesce(epoch_ns(min(__riffle_newest)), 0) FROM (SELECT max(" +
                q + ".\"time\") AS __riffle_newest FROM " + t + " AS " + q + placeholders +
                " GROUP BY " + keys_sql + ")");
      if (!finding) {
        shape->filtered = true;
      } else {
        for (size_t i = 0; i < conditions.size(); ++i)
          PutWhere(*finding, conditions[i], (kWherePlaceholder + std::to_string(i)).c_str());
        if (!conditions.empty()) shape->filter = WithoutLocations(json(conditions)).dump();
        shape->finding_tree = finding->dump();
      }
    }
  }
  json out = statement;
  out["node"]["from_table"] = std::move(replacement);
  out["node"]["where_clause"] = nullptr;
  return out;
}

std::optional<LastPoint> LastPointSql(duck::Connection& conn, const std::string& sql,
                                      const std::function<bool(const std::string&)>& is_table) {
  auto statement_of = [&conn](const std::string& text) { return ParseOneStatement(conn, text); };
  auto statement = statement_of(sql);
  if (!statement) return std::nullopt;
  LastPoint out;
  auto rewritten = LastPointTree(*statement, is_table, statement_of, &out.shape);
  if (!rewritten) return std::nullopt;
  if (!out.shape.finding_tree.empty()) {
    json finding = {{"error", false},
                    {"statements", json::array({json::parse(out.shape.finding_tree)})}};
    auto text = conn.SqlOfParseTree(finding.dump());
    out.shape.finding_tree.clear();
    if (text.ok())
      out.shape.finding_sql = std::move(text).value();
    else
      out.shape.filtered = true;
  }
  json tree = {{"error", false}, {"statements", json::array({*rewritten})}};
  auto text = conn.SqlOfParseTree(tree.dump());
  if (!text.ok()) return std::nullopt;
  out.sql = std::move(text).value();
  return out;
}

}  // namespace riffle::query
