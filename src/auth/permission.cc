#include "auth/permission.h"

#include <algorithm>

#include "common/text.h"

namespace riffle::auth {
namespace {

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string item(text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    // Trimmed: "read, write" is what people type.
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    out.push_back(item);
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

constexpr const char* kSystemNames[] = {"health", "metrics", "ping", "ready"};

}  // namespace

std::string ActionName(Action action) {
  return action == kRead ? "read" : action == kWrite ? "write" : "delete";
}

bool Permission::Covers(std::string_view type, std::string_view name, Action action) const {
  if (resource_type != type || !(actions & action)) return false;
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return n == "*" || n == name; });
}

bool Allows(const std::vector<Permission>& permissions, std::string_view type,
            std::string_view name, Action action) {
  if (permissions.empty()) return true;
  return std::any_of(permissions.begin(), permissions.end(),
                     [&](const Permission& p) { return p.Covers(type, name, action); });
}

Result<Permission> ParsePermission(std::string_view text) {
  const std::string expected =
      ": expected db:NAME[,NAME...]:read[,write][,delete] (NAME may be *) or "
      "system:health|metrics|ping|ready:read";
  size_t first = text.find(':');
  size_t last = text.rfind(':');
  if (first == std::string_view::npos || first == last)
    return Status::InvalidArgument("permission '" + std::string(text) + "' has not three parts" +
                                   expected);
  Permission p;
  p.resource_type = AsciiLower(std::string(text.substr(0, first)));
  if (p.resource_type == "*")
    return Status::InvalidArgument(
        "permission '" + std::string(text) +
        "': the * resource type is for admin tokens (create token --admin)" + expected);
  if (p.resource_type != "db" && p.resource_type != "system")
    return Status::InvalidArgument("permission '" + std::string(text) + "' has resource type '" +
                                   p.resource_type + "'" + expected);
  p.names = SplitList(text.substr(first + 1, last - first - 1));
  for (auto& n : p.names) {
    if (n.empty())
      return Status::InvalidArgument("permission '" + std::string(text) + "' has an empty name" +
                                     expected);
    if (p.resource_type == "system") {
      n = AsciiLower(n);
      if (n != "*" &&
          std::find(std::begin(kSystemNames), std::end(kSystemNames), n) == std::end(kSystemNames))
        return Status::InvalidArgument("permission '" + std::string(text) +
                                       "' names system resource '" + n + "'" + expected);
    }
  }
  if (p.names.size() > 1 && std::find(p.names.begin(), p.names.end(), "*") != p.names.end())
    return Status::InvalidArgument("permission '" + std::string(text) + "' mixes * with names" +
                                   expected);
  for (const auto& a : SplitList(text.substr(last + 1))) {
    std::string action = AsciiLower(a);
    if (action == "read" || (action == "*" && p.resource_type == "system"))
      p.actions |= kRead;
    else if (action == "write" && p.resource_type == "db")
      p.actions |= kWrite;
    else if (action == "delete" && p.resource_type == "db")
      p.actions |= kDelete;
    else if (action == "*" && p.resource_type == "db")
      p.actions |= kRead | kWrite | kDelete;
    else
      return Status::InvalidArgument("permission '" + std::string(text) + "' has action '" + a +
                                     "'" + expected);
  }
  return p;
}

std::string FormatPermission(const Permission& p) {
  std::string out = p.resource_type + ":";
  for (size_t i = 0; i < p.names.size(); ++i) out += (i ? "," : "") + p.names[i];
  out += ":";
  if (p.actions & kRead) out += "read";
  if (p.actions & kWrite) out += (p.actions & kRead) ? ",write" : "write";
  if (p.actions & kDelete) out += (p.actions & (kRead | kWrite)) ? ",delete" : "delete";
  return out;
}

std::string FormatPermissions(const std::vector<Permission>& permissions) {
  if (permissions.empty()) return "*:*:*";
  std::string out;
  for (const auto& p : permissions) out += (out.empty() ? "" : " ") + FormatPermission(p);
  return out;
}

}  // namespace riffle::auth
