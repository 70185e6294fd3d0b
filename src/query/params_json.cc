#include "query/params_json.h"

namespace riffle::query {

Result<Params> ParamsFromJson(const nlohmann::json& object) {
  if (!object.is_object())
    return Status::InvalidArgument("'params' must be a JSON object of name → value");
  Params out;
  for (const auto& [name, v] : object.items()) {
    if (v.is_null())
      out.emplace_back(name, std::monostate{});
    else if (v.is_boolean())
      out.emplace_back(name, v.get<bool>());
    else if (v.is_number_integer())
      out.emplace_back(name, v.get<int64_t>());
    else if (v.is_number())
      out.emplace_back(name, v.get<double>());
    else if (v.is_string())
      out.emplace_back(name, v.get<std::string>());
    else
      return Status::InvalidArgument("query parameter '" + name +
                                     "' must be a string, number, boolean or null");
  }
  return out;
}

}  // namespace riffle::query
