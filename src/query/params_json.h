// Query parameters as the HTTP API and Flight tickets send them: a JSON object of name → value,
// JSON types kept (bool, integer, float, string, null).
#pragma once

#include <nlohmann/json.hpp>

#include "query/query.h"

namespace riffle::query {

Result<Params> ParamsFromJson(const nlohmann::json& object);

}  // namespace riffle::query
