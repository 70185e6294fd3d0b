#include <gtest/gtest.h>

#include "auth/token_store.h"

namespace riffle::auth {
namespace {

std::string Base64(const std::string& s) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    uint32_t v = (uint8_t(s[i]) << 16) | (uint8_t(s[i + 1]) << 8) | uint8_t(s[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += t[(v >> k) & 63];
  }
  if (i < s.size()) {
    uint32_t v = uint8_t(s[i]) << 16 | (i + 1 < s.size() ? uint8_t(s[i + 1]) << 8 : 0);
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += i + 1 < s.size() ? t[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

TEST(TokenStore, StoresOnlyTheHashAndSurvivesAReload) {
  auto store = objstore::NewMemoryStore();
  TokenStore tokens(store.get(), "node0");
  ASSERT_TRUE(tokens.Load().ok());
  EXPECT_TRUE(tokens.Empty());
  auto admin = tokens.CreateAdmin();
  ASSERT_TRUE(admin.ok()) << admin.status().message();
  EXPECT_EQ(admin->token.rfind("apiv3_", 0), 0u);
  EXPECT_EQ(admin->info.hash, Sha512Hex(admin->token));
  auto file = store->Get("node0/tokens.json");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->find(admin->token), std::string::npos);

  TokenStore reloaded(store.get(), "node0");
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_TRUE(reloaded.Verify(admin->token));
  EXPECT_FALSE(reloaded.Verify(admin->token + "x"));
  EXPECT_EQ(reloaded.CreateAdmin().status().code(), Code::kAlreadyExists);
}

TEST(TokenStore, RegenerateRevokesTheOldSecretAndOperatorTokenStays) {
  auto store = objstore::NewMemoryStore();
  TokenStore tokens(store.get(), "n");
  auto first = tokens.CreateAdmin();
  ASSERT_TRUE(first.ok());
  auto second = tokens.RegenerateAdmin();
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(tokens.Verify(first->token));
  EXPECT_TRUE(tokens.Verify(second->token));
  EXPECT_EQ(tokens.Delete(kOperatorTokenName).code(), Code::kInvalidArgument);
  auto named = tokens.CreateNamedAdmin("ci", 3600);
  ASSERT_TRUE(named.ok());
  EXPECT_TRUE(named->info.expiry_ms.has_value());
  EXPECT_TRUE(tokens.Delete("ci").ok());
  EXPECT_FALSE(tokens.Verify(named->token));
  EXPECT_EQ(tokens.Delete("ci").code(), Code::kNotFound);
}

TEST(TokenStore, CorruptFileIsAnErrorNotAnOpenServer) {
  auto store = objstore::NewMemoryStore();
  ASSERT_TRUE(store->Put("n/tokens.json", "riffle-tokens v1 crc32=00000000\n{\"tokens\":[]}").ok());
  TokenStore tokens(store.get(), "n");
  EXPECT_FALSE(tokens.Load().ok());
}

TEST(Authenticate, AcceptsEveryCredentialForm) {
  auto store = objstore::NewMemoryStore();
  TokenStore tokens(store.get(), "n");
  auto t = tokens.CreateAdmin();
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(Authenticate(tokens, "Bearer " + t->token, nullptr).ok());
  EXPECT_TRUE(Authenticate(tokens, "Token " + t->token, nullptr).ok());
  EXPECT_TRUE(Authenticate(tokens, "bearer  " + t->token, nullptr).ok());
  EXPECT_TRUE(Authenticate(tokens, "Basic " + Base64("anyone:" + t->token), nullptr).ok());
  std::string p = t->token;
  EXPECT_TRUE(Authenticate(tokens, "", &p).ok());
  EXPECT_EQ(Authenticate(tokens, "", nullptr).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(Authenticate(tokens, "Bearer nope", nullptr).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(Authenticate(tokens, "garbage", nullptr).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Authenticate(tokens, "Digest abc", nullptr).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Authenticate(tokens, "Basic " + Base64("no-colon"), nullptr).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Authenticate(tokens, "Bearer ", nullptr).status().code(), Code::kUnauthenticated);
}

TEST(Permission, ParsesWhatEnterpriseAcceptsAndFormatsItBack) {
  auto p = ParsePermission("db:a,b:read,write");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->resource_type, "db");
  EXPECT_EQ(p->names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p->actions, kRead | kWrite);
  EXPECT_EQ(FormatPermission(*p), "db:a,b:read,write");
  EXPECT_EQ(FormatPermission(*ParsePermission("db:*:write")), "db:*:write");
  EXPECT_EQ(FormatPermission(*ParsePermission("SYSTEM:Health:READ")), "system:health:read");
  EXPECT_EQ(FormatPermission(*ParsePermission("db:x: read, write")), "db:x:read,write");
  // Row deletes need their own action (InfluxDB 3 Enterprise's db:NAME:delete).
  EXPECT_EQ(ParsePermission("db:x:delete")->actions, kDelete);
  EXPECT_EQ(FormatPermission(*ParsePermission("db:x:write,delete")), "db:x:write,delete");
  EXPECT_EQ(ParsePermission("db:x:*")->actions, kRead | kWrite | kDelete);
  for (const char* bad :
       {"db", "db:a", "db::read", "db:a:", "db:a:drop", "system:health:delete", "db:*,a:read",
        "*:*:*", "table:a:read", "system:tokens:read", "system:health:write"})
    EXPECT_FALSE(ParsePermission(bad).ok()) << bad;
}

TEST(Permission, AllowsOnlyWhatItNames) {
  std::vector<Permission> perms = {*ParsePermission("db:a:read"), *ParsePermission("db:b:write"),
                                   *ParsePermission("system:metrics:read")};
  EXPECT_TRUE(Allows(perms, "db", "a", kRead));
  EXPECT_FALSE(Allows(perms, "db", "a", kWrite));  // write does not include read, nor read write
  EXPECT_TRUE(Allows(perms, "db", "b", kWrite));
  EXPECT_FALSE(Allows(perms, "db", "b", kRead));
  EXPECT_FALSE(Allows(perms, "db", "c", kRead));
  EXPECT_FALSE(Allows(perms, "db", "A", kRead));  // names are exact
  EXPECT_TRUE(Allows(perms, "system", "metrics", kRead));
  EXPECT_FALSE(Allows(perms, "system", "ready", kRead));
  EXPECT_TRUE(Allows({}, "db", "anything", kWrite));  // no permissions: an admin token
  EXPECT_TRUE(Allows({*ParsePermission("db:*:read")}, "db", "c", kRead));
}

TEST(TokenStore, ResourceTokensKeepTheirPermissionsAcrossAReload) {
  auto store = objstore::NewMemoryStore();
  TokenStore tokens(store.get(), "n");
  ASSERT_TRUE(tokens.CreateAdmin().ok());
  auto made = tokens.CreateScoped("reader", {*ParsePermission("db:a,b:read")}, 3600);
  ASSERT_TRUE(made.ok()) << made.status().message();
  EXPECT_FALSE(tokens.CreateScoped("empty", {}, std::nullopt).ok());
  EXPECT_EQ(tokens.CreateScoped("reader", {*ParsePermission("db:a:read")}, std::nullopt).status().code(),
            Code::kAlreadyExists);
  TokenStore reloaded(store.get(), "n");
  ASSERT_TRUE(reloaded.Load().ok());
  auto found = reloaded.Find(made->token);
  ASSERT_TRUE(found.has_value());
  EXPECT_FALSE(found->admin());
  ASSERT_EQ(found->permissions.size(), 1u);
  EXPECT_EQ(FormatPermission(found->permissions[0]), "db:a,b:read");
  EXPECT_TRUE(found->expiry_ms.has_value());
  auto who = Authenticate(reloaded, "Bearer " + made->token, nullptr);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->name, "reader");
}

}  // namespace
}  // namespace riffle::auth
