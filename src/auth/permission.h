// What a token may do, as InfluxDB 3 Enterprise's resource tokens spell it:
//   db:NAME[,NAME...]:read[,write][,delete]     db:*:read,write     db:NAME:delete (row deletes)
//   system:health|metrics|ping|ready[,...]:read      system:*:read
// A token without permissions is an admin token (`*:*:*`): it may do everything.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace riffle::auth {

enum Action : uint8_t { kRead = 1, kWrite = 2, kDelete = 4 };

struct Permission {
  std::string resource_type;       // "db" or "system"
  std::vector<std::string> names;  // database or system-resource names; {"*"} is every one
  uint8_t actions = 0;             // Action bits

  bool Covers(std::string_view type, std::string_view name, Action action) const;
};

// "db:a,b:read,write" → Permission; an error names the part that is wrong and what is expected.
Result<Permission> ParsePermission(std::string_view text);
// The inverse: "db:a,b:read,write".
std::string FormatPermission(const Permission& p);
// A token's permissions, space-separated; "*:*:*" for none (an admin token).
std::string FormatPermissions(const std::vector<Permission>& permissions);
std::string ActionName(Action action);

// True when `permissions` (empty: an admin token) allow `action` on resource `type:name`.
bool Allows(const std::vector<Permission>& permissions, std::string_view type,
            std::string_view name, Action action);

}  // namespace riffle::auth
