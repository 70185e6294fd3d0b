#include "query/plan_hints.h"

#include <nlohmann/json.hpp>

#include "query/statement_scope.h"

namespace riffle::query {
namespace {

// Whether any node of the tree is a join, a subquery expression (planned as a join) or a
// PIVOT table reference (planned with joins when it unpivots or has several aggregates).
bool MayJoin(const nlohmann::json& j) {
  if (j.is_object()) {
    std::string type = StringAt(j, "type");
    if (type == "JOIN" || type == "PIVOT" || StringAt(j, "class") == "SUBQUERY") return true;
    for (const auto& [key, value] : j.items())
      if (MayJoin(value)) return true;
  } else if (j.is_array()) {
    for (const auto& value : j)
      if (MayJoin(value)) return true;
  }
  return false;
}

}  // namespace

std::string OptimizersNotNeeded(const nlohmann::json& statement) {
  return MayJoin(statement) ? "" : "join_order";
}

}  // namespace riffle::query
