#include "vault/keys.h"

#include <gtest/gtest.h>

namespace salvus::vault {
namespace {

class Keys : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitSodium()); }
};

std::string Pk(const VaultKeys& k) {
  return std::string(reinterpret_cast<const char*>(k.public_key.data()), k.public_key.size());
}

TEST_F(Keys, SerializeParseRoundTrip) {
  const VaultKeys a = VaultKeys::Generate();
  auto b = VaultKeys::Parse(a.Serialize());
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(a.index_key, b->index_key);
  EXPECT_EQ(a.public_key, b->public_key);
  EXPECT_EQ(a.secret_key, b->secret_key);
  EXPECT_FALSE(VaultKeys::Parse(a.Serialize().substr(1)));
}

TEST_F(Keys, ParseRefusesAPublicKeyOfAnotherSecretKey) {
  VaultKeys a = VaultKeys::Generate();
  a.public_key = VaultKeys::Generate().public_key;
  auto b = VaultKeys::Parse(a.Serialize());
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().find("does not belong"), std::string::npos);
}

TEST_F(Keys, HmacIndexIsStableAndKeyed) {
  const VaultKeys a = VaultKeys::Generate();
  const VaultKeys b = VaultKeys::Generate();
  const std::string i = a.IndexOf("ann@example.org");
  EXPECT_EQ(i.size(), 32u);
  EXPECT_EQ(i, a.IndexOf("ann@example.org"));
  EXPECT_EQ(i, VaultKeys::Parse(a.Serialize())->IndexOf("ann@example.org"));
  EXPECT_NE(i, a.IndexOf("bob@example.org"));
  EXPECT_NE(i, b.IndexOf("ann@example.org"));
}

TEST_F(Keys, HmacIsPlainHmacSha256) {
  // Computed apart from libsodium: printf 'Hi There' | openssl dgst -sha256
  // -mac HMAC -macopt hexkey:0b0b...0b (32 bytes).
  VaultKeys k;
  k.index_key.fill(0x0b);
  const std::string mac = k.IndexOf("Hi There");
  static const unsigned char kWant[32] = {0x19, 0x8a, 0x60, 0x7e, 0xb4, 0x4b, 0xfb, 0xc6,
                                          0x99, 0x03, 0xa0, 0xf1, 0xcf, 0x2b, 0xbd, 0xc5,
                                          0xba, 0x0a, 0xa3, 0xf3, 0xd9, 0xae, 0x3c, 0x1c,
                                          0x7a, 0x3b, 0x16, 0x96, 0xa0, 0xb6, 0x8c, 0xf7};
  EXPECT_EQ(mac, std::string(reinterpret_cast<const char*>(kWant), 32));
}

TEST_F(Keys, SealedEmailOpensOnlyWithTheVaultsKey) {
  const VaultKeys a = VaultKeys::Generate();
  const VaultKeys b = VaultKeys::Generate();
  const std::string sealed = SealTo(Pk(a), "ann@example.org");
  EXPECT_EQ(sealed.find("ann@example.org"), std::string::npos);
  EXPECT_EQ(a.OpenSealed(sealed).value(), "ann@example.org");
  EXPECT_FALSE(b.OpenSealed(sealed));
  std::string altered = sealed;
  altered[sealed.size() / 2] ^= 1;
  EXPECT_FALSE(a.OpenSealed(altered));
  EXPECT_FALSE(a.OpenSealed("short"));
  EXPECT_FALSE(a.OpenSealed(""));
  // Sealing is randomized: the same address never seals the same twice.
  EXPECT_NE(a.SealToSelf("x@y.org"), a.SealToSelf("x@y.org"));
}

}  // namespace
}  // namespace salvus::vault
