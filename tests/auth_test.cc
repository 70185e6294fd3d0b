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
  EXPECT_EQ(Authenticate(tokens, "", nullptr).code(), Code::kUnauthenticated);
  EXPECT_EQ(Authenticate(tokens, "Bearer nope", nullptr).code(), Code::kUnauthenticated);
  EXPECT_EQ(Authenticate(tokens, "garbage", nullptr).code(), Code::kInvalidArgument);
  EXPECT_EQ(Authenticate(tokens, "Digest abc", nullptr).code(), Code::kInvalidArgument);
  EXPECT_EQ(Authenticate(tokens, "Basic " + Base64("no-colon"), nullptr).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace riffle::auth
