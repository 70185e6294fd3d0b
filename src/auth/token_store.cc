#include "auth/token_store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/checksummed.h"
#include "common/clock.h"
#include "common/text.h"

namespace riffle::auth {

using nlohmann::json;

namespace {

constexpr const char* kMagic = "riffle-tokens v1";

std::string Base64(std::string_view in, bool url) {
  static const char* kStd = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char* kUrl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* table = url ? kUrl : kStd;
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += table[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    if (i + 1 < in.size()) out += table[(v >> 6) & 63];
    if (!url) out.append(i + 1 < in.size() ? 1 : 2, '=');
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace

std::string Sha512Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha512(), nullptr);
  std::string hex;
  char b[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", digest[i]);
    hex += b;
  }
  return hex;
}

TokenStore::TokenStore(objstore::ObjectStore* store, std::string node_id)
    : store_(store), key_(std::move(node_id) + "/tokens.json") {}

Status TokenStore::Load() {
  std::lock_guard lock(mu_);
  auto contents = store_->Get(key_);
  if (!contents.ok()) return contents.status().code() == Code::kNotFound ? Status::Ok() : contents.status();
  auto body = OpenChecksummed(kMagic, *contents, "token file " + key_);
  if (!body.ok()) return body.status();
  try {
    json j = json::parse(*body);
    tokens_.clear();
    for (const auto& t : j.at("tokens")) {
      TokenInfo info{t.at("id"), t.at("name"), t.at("hash"), t.at("created_at_ms"), std::nullopt};
      if (t.contains("expiry_ms") && !t["expiry_ms"].is_null()) info.expiry_ms = t["expiry_ms"].get<int64_t>();
      if (t.contains("permissions"))
        for (const auto& text : t["permissions"]) {
          auto p = ParsePermission(text.get<std::string>());
          if (!p.ok()) return Status::IOError("token file " + key_ + ": " + p.status().message());
          info.permissions.push_back(std::move(p).value());
        }
      next_id_ = std::max(next_id_, info.id + 1);
      tokens_.push_back(std::move(info));
    }
  } catch (const std::exception& e) {
    return Status::IOError("token file " + key_ + " is not valid: " + e.what());
  }
  return Status::Ok();
}

Status TokenStore::SaveLocked() {
  json j = {{"tokens", json::array()}};
  for (const auto& t : tokens_) {
    json entry = {{"id", t.id}, {"name", t.name}, {"hash", t.hash}, {"created_at_ms", t.created_at_ms},
                  {"expiry_ms", t.expiry_ms ? json(*t.expiry_ms) : json(nullptr)}};
    if (!t.admin()) {
      entry["permissions"] = json::array();
      for (const auto& p : t.permissions) entry["permissions"].push_back(FormatPermission(p));
    }
    j["tokens"].push_back(std::move(entry));
  }
  return store_->Put(key_, SealWithChecksum(kMagic, j.dump()));
}

bool TokenStore::Empty() const {
  std::lock_guard lock(mu_);
  return tokens_.empty();
}

Result<std::string> NewTokenSecret() {
  unsigned char random[64];
  if (RAND_bytes(random, sizeof random) != 1) return Status::Internal("cannot draw random bytes for a token");
  return "apiv3_" + Base64(std::string_view(reinterpret_cast<char*>(random), sizeof random), /*url=*/true);
}

Result<TokenInfo> TokenStore::ImportAdmin(const std::string& name, const std::string& secret,
                                          std::optional<int64_t> expiry_ms) {
  if (secret.rfind("apiv3_", 0) != 0 || secret.size() < 20)
    return Status::InvalidArgument("the admin token file's token is not a token: expected \"apiv3_...\"");
  std::lock_guard lock(mu_);
  return InsertLocked(name, secret, expiry_ms, {});
}

Result<TokenInfo> TokenStore::InsertLocked(const std::string& name, const std::string& secret,
                                           std::optional<int64_t> expiry_ms, std::vector<Permission> permissions) {
  for (const auto& t : tokens_)
    if (t.name == name)
      return Status::AlreadyExists("token '" + name + "' already exists" +
                                   (name == kOperatorTokenName ? ": use --regenerate to replace it" : ""));
  TokenInfo info{next_id_++, name, Sha512Hex(secret), NowNanos() / 1000000, expiry_ms, std::move(permissions)};
  tokens_.push_back(info);
  if (Status st = SaveLocked(); !st.ok()) {
    tokens_.pop_back();
    return st;
  }
  return info;
}

Result<NewToken> TokenStore::AddLocked(const std::string& name, std::optional<int64_t> expiry_ms) {
  NewToken out;
  RIFFLE_ASSIGN_OR_RETURN(out.token, NewTokenSecret());
  out.info = {next_id_++, name, Sha512Hex(out.token), NowNanos() / 1000000, expiry_ms};
  tokens_.push_back(out.info);
  return out;
}

Result<NewToken> TokenStore::CreateAdmin() { return CreateNamedAdmin(kOperatorTokenName, std::nullopt); }

Result<NewToken> TokenStore::CreateNamedAdmin(const std::string& name, std::optional<int64_t> expiry_secs) {
  std::lock_guard lock(mu_);
  return CreateLocked(name, {}, expiry_secs);
}

Result<NewToken> TokenStore::CreateScoped(const std::string& name, std::vector<Permission> permissions,
                                          std::optional<int64_t> expiry_secs) {
  if (permissions.empty())
    return Status::InvalidArgument("a resource token needs at least one permission, e.g. db:mydb:read");
  std::lock_guard lock(mu_);
  return CreateLocked(name, std::move(permissions), expiry_secs);
}

Result<NewToken> TokenStore::CreateLocked(const std::string& name, std::vector<Permission> permissions,
                                          std::optional<int64_t> expiry_secs) {
  if (name.empty()) return Status::InvalidArgument("token name is empty: expected a name such as 'ci'");
  std::optional<int64_t> expiry;
  if (expiry_secs) expiry = NowNanos() / 1000000 + *expiry_secs * 1000;
  RIFFLE_ASSIGN_OR_RETURN(std::string secret, NewTokenSecret());
  RIFFLE_ASSIGN_OR_RETURN(TokenInfo info, InsertLocked(name, secret, expiry, std::move(permissions)));
  return NewToken{std::move(info), std::move(secret)};
}

Result<NewToken> TokenStore::RegenerateAdmin() {
  std::lock_guard lock(mu_);
  auto it = std::find_if(tokens_.begin(), tokens_.end(), [](const auto& t) { return t.name == kOperatorTokenName; });
  if (it == tokens_.end()) return Status::NotFound("there is no admin token to regenerate: create one first");
  std::vector<TokenInfo> before = tokens_;
  tokens_.erase(it);
  auto added = AddLocked(kOperatorTokenName, std::nullopt);
  if (!added.ok() || !SaveLocked().ok()) {
    tokens_ = std::move(before);
    return added.ok() ? Status::IOError("cannot save the regenerated token") : added.status();
  }
  return added;
}

Status TokenStore::Delete(const std::string& name) {
  if (name == kOperatorTokenName) return Status::InvalidArgument("the operator token '_admin' cannot be deleted");
  std::lock_guard lock(mu_);
  auto it = std::find_if(tokens_.begin(), tokens_.end(), [&](const auto& t) { return t.name == name; });
  if (it == tokens_.end()) return Status::NotFound("token not found: " + name);
  TokenInfo removed = *it;
  tokens_.erase(it);
  if (Status st = SaveLocked(); !st.ok()) {
    tokens_.push_back(removed);
    return st;
  }
  return Status::Ok();
}

std::vector<TokenInfo> TokenStore::List() const {
  std::lock_guard lock(mu_);
  return tokens_;
}

std::optional<TokenInfo> TokenStore::Find(std::string_view token) const {
  std::string hash = Sha512Hex(token);
  int64_t now_ms = NowNanos() / 1000000;
  std::lock_guard lock(mu_);
  for (const auto& t : tokens_)
    if (t.hash == hash && (!t.expiry_ms || *t.expiry_ms > now_ms)) return t;
  return std::nullopt;
}

Result<TokenInfo> Authenticate(const TokenStore& tokens, const std::string& authorization,
                               const std::string* query_token) {
  const Status denied(Code::kUnauthenticated, "the request was not authenticated");
  auto found = [&](std::string_view token) -> Result<TokenInfo> {
    auto info = tokens.Find(token);
    if (!info) return denied;
    return *info;
  };
  if (authorization.empty()) return query_token ? found(*query_token) : Result<TokenInfo>(denied);
  size_t space = authorization.find(' ');
  if (space == std::string::npos)
    return Status::InvalidArgument("malformed Authorization header: expected 'Bearer <token>', 'Token <token>' or 'Basic <base64>'");
  std::string scheme = AsciiLower(authorization.substr(0, space));
  size_t start = authorization.find_first_not_of(' ', space);
  if (start == std::string::npos) return denied;  // "Bearer " without a token
  std::string credential = authorization.substr(start);
  if (scheme == "bearer" || scheme == "token") return found(credential);
  if (scheme == "basic") {
    auto decoded = Base64Decode(credential);
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos)
      return Status::InvalidArgument("malformed Basic credentials: expected base64 of 'user:token'");
    return found(decoded->substr(colon + 1));
  }
  return Status::InvalidArgument("unsupported Authorization scheme '" + authorization.substr(0, space) +
                                 "': expected Bearer, Token or Basic");
}

Status CheckDatabaseAccess(const TokenInfo& token, std::string_view db, Action action) {
  if (token.admin() || (db != "_internal" && Allows(token.permissions, "db", db, action))) return Status::Ok();
  return Status(Code::kForbidden, "permission denied: this request needs permission db:" + std::string(db) + ":" +
                                      ActionName(action) + ", which token '" + token.name + "' does not have (it has " +
                                      FormatPermissions(token.permissions) + ")");
}

std::optional<std::string> TokenOf(const std::string& authorization) {
  size_t space = authorization.find(' ');
  if (space == std::string::npos) return std::nullopt;
  std::string scheme = AsciiLower(authorization.substr(0, space));
  size_t start = authorization.find_first_not_of(' ', space);
  if (start == std::string::npos) return std::nullopt;
  std::string credential = authorization.substr(start);
  if (scheme == "bearer" || scheme == "token") return credential;
  if (scheme != "basic") return std::nullopt;
  auto decoded = Base64Decode(credential);
  size_t colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) return std::nullopt;
  return decoded->substr(colon + 1);
}

}  // namespace riffle::auth
