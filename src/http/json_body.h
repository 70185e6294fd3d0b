// A parsed JSON request body (kept out of http.h so nlohmann stays an implementation detail).
#pragma once

#include <nlohmann/json.hpp>

namespace riffle::http {

struct JsonBody {
  nlohmann::json value;
};

}  // namespace riffle::http
