#include "query/plan_hints.h"

#include <nlohmann/json.hpp>

#include "query/statement_scope.h"

namespace riffle::query {
namespace {

// Whether any node of the tree is a join, a subquery expression (planned as a join) or a
// PIVOT table reference (planned with joins when it unpivots or has several aggregates).
bool MayJoin(const nlohmann::json& j) {
  return AnyObjectIn(j, [](const nlohmann::json& node) {
    std::string type = StringAt(node, "type");
    return type == "JOIN" || type == "PIVOT" || StringAt(node, "class") == "SUBQUERY";
  });
}

}  // namespace

std::string OptimizersNotNeeded(const nlohmann::json& statement) {
  return MayJoin(statement) ? "" : "join_order";
}

}  // namespace riffle::query
