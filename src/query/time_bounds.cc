#include "query/time_bounds.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "common/text.h"
#include "query/statement_scope.h"

namespace riffle::query {
namespace {

using nlohmann::json;

constexpr uint64_t kNoLocation = UINT64_MAX;  // what DuckDB writes for a generated node
constexpr int64_t kRoundingSlackNs = 1'000'000'000;
constexpr int64_t kClockSlackNs = 60'000'000'000;
// now() is one; DuckDB compares a TIMESTAMP_NS column with it as this type, and has no cast of
// it to TIMESTAMP_NS without the ICU extension.
constexpr const char* kTimestampTz = "TIMESTAMP WITH TIME ZONE";

void CountBaseTables(const json& j, std::map<std::string, int>* counts) {
  if (j.is_object()) {
    if (StringAt(j, "type") == "BASE_TABLE" && j.contains("table_name"))
      ++(*counts)[AsciiLower(StringAt(j, "table_name"))];
    for (const auto& [key, value] : j.items()) CountBaseTables(value, counts);
  } else if (j.is_array()) {
    for (const auto& value : j) CountBaseTables(value, counts);
  }
}

template <typename F>
void ForEachSelectNode(const json& j, const F& visit) {
  if (j.is_object()) {
    if (StringAt(j, "type") == "SELECT_NODE") visit(j);
    for (const auto& [key, value] : j.items()) ForEachSelectNode(value, visit);
  } else if (j.is_array()) {
    for (const auto& value : j) ForEachSelectNode(value, visit);
  }
}

// Functions whose value depends on nothing but their arguments or the clock: a bound may use
// them. Anything else (random(), a macro, a function of a column) makes it no bound.
bool IsTimeFunction(const std::string& name, bool* clock) {
  // riffle_now: what sql_compat.h makes of now() (a TIMESTAMP, as in InfluxDB 3).
  static const std::set<std::string> kClock = {"now",
                                               "riffle_now",
                                               "current_timestamp",
                                               "get_current_timestamp",
                                               "transaction_timestamp",
                                               "current_date",
                                               "today"};
  static const std::set<std::string> kPure = {"+",
                                              "-",
                                              "to_timestamp",
                                              "make_timestamp",
                                              "make_timestamp_ns",
                                              "make_timestamptz",
                                              "make_date",
                                              "date_trunc",
                                              "datetrunc",
                                              "date_bin",
                                              "time_bucket",
                                              "epoch_ms",
                                              "strptime",
                                              "trunc",
                                              "to_years",
                                              "to_months",
                                              "to_weeks",
                                              "to_days",
                                              "to_hours",
                                              "to_minutes",
                                              "to_seconds",
                                              "to_milliseconds",
                                              "to_microseconds"};
  if (kClock.count(name)) {
    *clock = true;
    return true;
  }
  return kPure.count(name) > 0;
}

bool IsBoundValue(const json& e, bool* clock) {
  if (!e.is_object()) return false;
  std::string cls = StringAt(e, "class");
  if (cls == "CONSTANT" || cls == "PARAMETER") return true;
  if (cls == "CAST") return e.contains("child") && IsBoundValue(e["child"], clock);
  if (cls != "FUNCTION") return false;
  if (!IsNullOrAbsent(e, "filter") || e.value("distinct", false) || !StringAt(e, "schema").empty())
    return false;
  if (auto ob = e.find("order_bys");
      ob != e.end() && ob->is_object() && ob->contains("orders") && !(*ob)["orders"].empty())
    return false;
  if (!IsTimeFunction(AsciiLower(StringAt(e, "function_name")), clock)) return false;
  const auto& children = e.contains("children") ? e["children"] : json::array();
  return children.is_array() && std::all_of(children.begin(), children.end(),
                                            [&](const json& c) { return IsBoundValue(c, clock); });
}

// `time`, or `q.time` where q is the table's name in the statement (lower-cased).
bool IsTimeColumnOf(const json& e, const std::string& qualifier) {
  if (!e.is_object() || StringAt(e, "class") != "COLUMN_REF") return false;
  const auto& names = e.value("column_names", json::array());
  if (!names.is_array() || names.empty() || names.size() > 2) return false;
  for (const auto& n : names)
    if (!n.is_string()) return false;
  if (AsciiLower(names.back().get<std::string>()) != "time") return false;
  return names.size() == 1 || AsciiLower(names[0].get<std::string>()) == qualifier;
}

struct FoundBound {
  TimeBound bound;
  json value;
};

class BoundFinder {
 public:
  BoundFinder(std::string table, std::string qualifier, std::vector<FoundBound>* out)
      : table_(std::move(table)), qualifier_(std::move(qualifier)), out_(out) {}

  void Conjuncts(const json& e) {
    if (!e.is_object()) return;
    if (StringAt(e, "type") == "CONJUNCTION_AND") {
      for (const auto& child : e.value("children", json::array())) Conjuncts(child);
      return;
    }
    std::string type = StringAt(e, "type");
    if (type == "COMPARE_BETWEEN") {
      if (IsTimeColumn(e.value("input", json()))) {
        Add(e.value("lower", json()), true);
        Add(e.value("upper", json()), false);
      }
      return;
    }
    if (StringAt(e, "class") != "COMPARISON") return;
    const json left = e.value("left", json()), right = e.value("right", json());
    bool time_left = IsTimeColumn(left), time_right = IsTimeColumn(right);
    if (time_left == time_right) return;
    const json& value = time_left ? right : left;
    // Read as `time OP value`: with the column on the right, > means the value is an upper bound.
    bool greater = type == "COMPARE_GREATERTHAN" || type == "COMPARE_GREATERTHANOREQUALTO";
    bool less = type == "COMPARE_LESSTHAN" || type == "COMPARE_LESSTHANOREQUALTO";
    if (type == "COMPARE_EQUAL") {
      Add(value, true);
      Add(value, false);
    } else if (greater || less) {
      Add(value, greater == time_left);
    }
  }

 private:
  bool IsTimeColumn(const json& e) const { return IsTimeColumnOf(e, qualifier_); }

  void Add(const json& value, bool lower) {
    bool clock = false;
    if (!IsBoundValue(value, &clock)) return;
    out_->push_back({TimeBound{table_, lower, clock}, value});
  }

  std::string table_, qualifier_;
  std::vector<FoundBound>* out_;
};

json Function(const std::string& name, json children) {
  return {{"class", "FUNCTION"},
          {"type", "FUNCTION"},
          {"alias", ""},
          {"query_location", kNoLocation},
          {"function_name", name},
          {"schema", ""},
          {"children", std::move(children)},
          {"filter", nullptr},
          {"order_bys", {{"type", "ORDER_MODIFIER"}, {"orders", json::array()}}},
          {"distinct", false},
          {"is_operator", false},
          {"export_state", false},
          {"catalog", ""}};
}

json TryCast(json child, const char* type) {
  return {{"class", "CAST"},
          {"type", "OPERATOR_CAST"},
          {"alias", ""},
          {"query_location", kNoLocation},
          {"child", std::move(child)},
          {"cast_type", {{"id", type}, {"type_info", nullptr}}},
          {"try_cast", true}};
}

json EvalTree(const std::vector<FoundBound>& found, const json& statement) {
  json select_list = json::array();
  for (const auto& f : found) {
    select_list.push_back(Function("typeof", json::array({f.value})));
    select_list.push_back(Function("epoch_ns", json::array({TryCast(f.value, "TIMESTAMP_NS")})));
    select_list.push_back(Function("epoch_ns", json::array({TryCast(f.value, kTimestampTz)})));
  }
  json node = {
      {"type", "SELECT_NODE"},
      {"modifiers", json::array()},
      {"cte_map", {{"map", json::array()}}},
      {"select_list", std::move(select_list)},
      {"from_table",
       {{"type", "EMPTY"}, {"alias", ""}, {"sample", nullptr}, {"query_location", kNoLocation}}},
      {"where_clause", nullptr},
      {"group_expressions", json::array()},
      {"group_sets", json::array()},
      {"aggregate_handling", "STANDARD_HANDLING"},
      {"having", nullptr},
      {"sample", nullptr},
      {"qualify", nullptr}};
  json params =
      statement.contains("named_param_map") ? statement["named_param_map"] : json::array();
  return {{"error", false},
          {"statements",
           json::array({{{"node", std::move(node)}, {"named_param_map", std::move(params)}}})}};
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
  return a + b;
}

}  // namespace

StatementTimeBounds FindTimeBounds(const nlohmann::json& statement) {
  StatementTimeBounds result;
  if (!statement.is_object() || !statement.contains("node")) return result;
  std::map<std::string, int> references;
  CountBaseTables(statement["node"], &references);
  std::vector<FoundBound> found;
  ForEachSelectNode(statement["node"], [&](const json& select) {
    const json from = select.value("from_table", json());
    if (!from.is_object() || StringAt(from, "type") != "BASE_TABLE") return;
    if (!StringAt(from, "schema_name").empty() || !StringAt(from, "catalog_name").empty() ||
        !from.value("column_name_alias", json::array()).empty() ||
        !IsNullOrAbsent(from, "at_clause"))
      return;
    std::string table = AsciiLower(StringAt(from, "table_name"));
    if (references[table] != 1) return;
    std::string alias = AsciiLower(StringAt(from, "alias"));
    BoundFinder finder(table, alias.empty() ? table : alias, &found);
    finder.Conjuncts(select.value("where_clause", json()));
  });
  if (found.empty()) return result;
  for (const auto& f : found) result.bounds.push_back(f.bound);
  result.eval_tree_json = EvalTree(found, statement).dump();
  return result;
}

bool IsLowerTimeBound(const nlohmann::json& where, const std::string& qualifier) {
  if (!where.is_object() || StringAt(where, "class") != "COMPARISON") return false;
  const std::string type = StringAt(where, "type");
  const json left = where.value("left", json()), right = where.value("right", json());
  bool clock = false;
  if (IsTimeColumnOf(left, qualifier))
    return (type == "COMPARE_GREATERTHAN" || type == "COMPARE_GREATERTHANOREQUALTO") &&
           IsBoundValue(right, &clock);
  if (IsTimeColumnOf(right, qualifier))
    return (type == "COMPARE_LESSTHAN" || type == "COMPARE_LESSTHANOREQUALTO") &&
           IsBoundValue(left, &clock);
  return false;
}

std::map<std::string, buffer::TimeRange> RangesFromEvaluation(const StatementTimeBounds& bounds,
                                                              const std::vector<duck::Value>& row) {
  static const std::set<std::string> kTimeTypes = {
      "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE",
      "DATE",      "VARCHAR"};
  std::map<std::string, buffer::TimeRange> ranges;
  for (size_t i = 0; i < bounds.bounds.size() && 3 * i + 2 < row.size(); ++i) {
    const auto* type = std::get_if<std::string>(&row[3 * i]);
    if (!type || !kTimeTypes.count(*type)) continue;
    const auto* value = std::get_if<int64_t>(&row[3 * i + (*type == kTimestampTz ? 2 : 1)]);
    if (!value) continue;
    const TimeBound& b = bounds.bounds[i];
    buffer::TimeRange& r =
        ranges.try_emplace(b.table, buffer::TimeRange{INT64_MIN, INT64_MAX}).first->second;
    if (b.lower) {
      r.lo = std::max(r.lo, SaturatingAdd(*value, -kRoundingSlackNs));
    } else {
      int64_t slack = kRoundingSlackNs + (b.volatile_value ? kClockSlackNs : 0);
      r.hi = std::min(r.hi, SaturatingAdd(*value, slack));
    }
  }
  return ranges;
}

StatementTimeBounds AnalyzeTimeBounds(duck::Connection& conn, const std::string& sql) {
  auto statement = ParseOneStatement(conn, sql);
  if (!statement) return {};
  StatementTimeBounds bounds = FindTimeBounds(*statement);
  if (bounds.bounds.empty()) return bounds;
  auto eval = conn.SqlOfParseTree(bounds.eval_tree_json);
  if (!eval.ok()) return {};
  bounds.eval_sql = std::move(eval).value();
  // A parameter anywhere in the bounds (any "PARAMETER" text in the tree, even a string
  // literal's, only costs the evaluation per run) or the clock: evaluated per run.
  bool constant = bounds.eval_tree_json.find("\"PARAMETER\"") == std::string::npos;
  for (const auto& b : bounds.bounds) constant = constant && !b.volatile_value;
  if (constant)
    bounds.constant_ranges =
        EvaluateTimeBounds(conn, bounds, [](duck::Statement&) { return Status::Ok(); });
  return bounds;
}

std::map<std::string, buffer::TimeRange> EvaluateTimeBounds(
    duck::Connection& conn, const StatementTimeBounds& bounds,
    const std::function<Status(duck::Statement&)>& bind) {
  if (bounds.constant_ranges) return *bounds.constant_ranges;
  if (bounds.eval_sql.empty()) return {};
  auto stmt = conn.PrepareOne(bounds.eval_sql);
  if (!stmt.ok() || !bind(**stmt).ok()) return {};
  auto rows = (*stmt)->ExecuteStreaming();
  if (!rows.ok()) return {};
  duck::Batch batch;
  auto more = (*rows)->Next(&batch);
  if (!more.ok() || !*more || batch.rows != 1) return {};
  std::vector<duck::Value> row;
  for (const auto& column : batch.columns) row.push_back(column[0]);
  return RangesFromEvaluation(bounds, row);
}

}  // namespace riffle::query
