// Tokens: admin tokens (all InfluxDB 3 Core has) and, as InfluxDB 3 Enterprise has them,
// resource tokens limited to databases and system endpoints (auth/permission.h). Created once,
// shown once, stored as a SHA-512 hash in a checksummed file of the object store, checked on
// every request.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/permission.h"
#include "common/status.h"
#include "objstore/object_store.h"

namespace riffle::auth {

struct TokenInfo {
  uint64_t id = 0;
  std::string name;
  std::string hash;  // hex SHA-512 of the token
  int64_t created_at_ms = 0;
  std::optional<int64_t> expiry_ms;
  std::vector<Permission> permissions;  // empty: an admin token

  bool admin() const { return permissions.empty(); }
};

struct NewToken {
  TokenInfo info;
  std::string token;  // the secret, returned once and never stored
};

constexpr const char* kOperatorTokenName = "_admin";

class TokenStore {
 public:
  TokenStore(objstore::ObjectStore* store, std::string node_id);

  Status Load();
  bool Empty() const;

  // The operator token "_admin": AlreadyExists when there is one.
  Result<NewToken> CreateAdmin();
  // Replaces the operator token's secret; the old one stops working at once.
  Result<NewToken> RegenerateAdmin();
  Result<NewToken> CreateNamedAdmin(const std::string& name, std::optional<int64_t> expiry_secs);
  // An admin token whose secret was made elsewhere (`create token --admin --offline`, read by
  // serve --admin-token-file); AlreadyExists when a token has that name.
  Result<TokenInfo> ImportAdmin(const std::string& name, const std::string& secret, std::optional<int64_t> expiry_ms);
  // A resource token: `permissions` must not be empty.
  Result<NewToken> CreateScoped(const std::string& name, std::vector<Permission> permissions,
                                std::optional<int64_t> expiry_secs);
  // The operator token cannot be deleted (InvalidArgument).
  Status Delete(const std::string& name);
  std::vector<TokenInfo> List() const;

  // True for a known, unexpired token.
  bool Verify(std::string_view token) const { return Find(token).has_value(); }
  // The known, unexpired token `token` is.
  std::optional<TokenInfo> Find(std::string_view token) const;

 private:
  Result<NewToken> AddLocked(const std::string& name, std::optional<int64_t> expiry_ms);
  Result<NewToken> CreateLocked(const std::string& name, std::vector<Permission> permissions,
                                std::optional<int64_t> expiry_secs);
  // Adds a token under a new id unless one has its name, and saves the file (undone if that fails).
  Result<TokenInfo> InsertLocked(const std::string& name, const std::string& secret, std::optional<int64_t> expiry_ms,
                                 std::vector<Permission> permissions);
  Status SaveLocked();

  objstore::ObjectStore* store_;
  std::string key_;
  mutable std::mutex mu_;
  std::vector<TokenInfo> tokens_;
  uint64_t next_id_ = 1;
};

std::string Sha512Hex(std::string_view data);
// A new token secret: "apiv3_" + base64url of 64 random bytes.
Result<std::string> NewTokenSecret();

// Checks a request's credentials: `authorization` is its Authorization header ("" when absent):
// "Bearer T", "Token T" or "Basic base64(user:T)"; `query_token` is the v1 `?p=` parameter
// where the endpoint accepts it. Unauthenticated when missing or unknown, InvalidArgument when
// the header is malformed.
Result<TokenInfo> Authenticate(const TokenStore& tokens, const std::string& authorization,
                               const std::string* query_token);
// Ok when `token` may `action` database `db` (an admin token may do anything; `_internal` needs
// one); otherwise Forbidden naming the missing permission and the ones the token has.
Status CheckDatabaseAccess(const TokenInfo& token, std::string_view db, Action action);
// The token an Authorization header carries (the password of Basic credentials), if any.
std::optional<std::string> TokenOf(const std::string& authorization);

}  // namespace riffle::auth
