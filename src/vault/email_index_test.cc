#include "vault/email_index.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace salvus::vault {
namespace {

namespace fs = std::filesystem;

class EmailIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitSodium());
    char tmpl[] = "/tmp/salvus-vault-db-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/vault.db";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, path_;
  VaultKeys keys_ = VaultKeys::Generate();
};

constexpr char kAnn[] = "0123456789abcdef0123456789abcdef";
constexpr char kBob[] = "fedcba9876543210fedcba9876543210";

TEST_F(EmailIndexTest, RegisterLookupAndSealedRow) {
  auto idx = EmailIndex::Open(path_, keys_);
  ASSERT_TRUE(idx) << idx.error();
  EXPECT_EQ(fs::status(path_).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  const std::string ann = "ann@example.org";
  auto r = idx->Register(keys_.IndexOf(ann), kAnn, keys_.SealToSelf(ann), 1000);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, EmailIndex::Registered::kCreated);
  EXPECT_EQ(idx->Lookup(keys_.IndexOf(ann)).value(), std::optional<std::string>(kAnn));
  EXPECT_EQ(idx->Lookup(keys_.IndexOf("bob@example.org")).value(), std::nullopt);
  auto sealed = idx->SealedEmailOf(kAnn).value();
  ASSERT_TRUE(sealed);
  EXPECT_EQ(keys_.OpenSealed(*sealed).value(), ann);
  EXPECT_EQ(idx->SealedEmailOf(kBob).value(), std::nullopt);
}

TEST_F(EmailIndexTest, AnAddressOrAnAccountIsTakenOnce) {
  auto idx = EmailIndex::Open(path_, keys_);
  ASSERT_TRUE(idx);
  const std::string ann = "ann@example.org", bob = "bob@example.org";
  ASSERT_EQ(idx->Register(keys_.IndexOf(ann), kAnn, keys_.SealToSelf(ann), 1).value(),
            EmailIndex::Registered::kCreated);
  EXPECT_EQ(idx->Register(keys_.IndexOf(ann), kBob, keys_.SealToSelf(ann), 2).value(),
            EmailIndex::Registered::kEmailTaken);
  EXPECT_EQ(idx->Register(keys_.IndexOf(bob), kAnn, keys_.SealToSelf(bob), 3).value(),
            EmailIndex::Registered::kAccountTaken);
  EXPECT_EQ(idx->Count().value(), 1);
  EXPECT_EQ(idx->Lookup(keys_.IndexOf(ann)).value(), std::optional<std::string>(kAnn));
}

TEST_F(EmailIndexTest, SurvivesReopenAndRefusesOtherKeys) {
  const std::string ann = "ann@example.org";
  {
    auto idx = EmailIndex::Open(path_, keys_);
    ASSERT_TRUE(idx);
    ASSERT_TRUE(idx->Register(keys_.IndexOf(ann), kAnn, keys_.SealToSelf(ann), 1));
  }
  auto again = EmailIndex::Open(path_, keys_);
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->Lookup(keys_.IndexOf(ann)).value(), std::optional<std::string>(kAnn));
  auto other = EmailIndex::Open(path_, VaultKeys::Generate());
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().find("other keys"), std::string::npos) << other.error();
}

TEST_F(EmailIndexTest, FileHoldsNoAddressInClear) {
  const std::string ann = "Ann.Secret@Example.org";
  {
    auto idx = EmailIndex::Open(path_, keys_);
    ASSERT_TRUE(idx);
    ASSERT_TRUE(idx->Register(keys_.IndexOf("ann.secret@example.org"), kAnn,
                              keys_.SealToSelf("ann.secret@example.org"), 1));
  }
  std::stringstream ss;
  ss << std::ifstream(path_, std::ios::binary).rdbuf();
  const std::string bytes = ss.str();
  EXPECT_GT(bytes.size(), 0u);
  for (const char* part : {"ann.secret", "example.org", "Ann.Secret"}) {
    EXPECT_EQ(bytes.find(part), std::string::npos) << part;
  }
}

TEST_F(EmailIndexTest, ADatabaseOthersMayReadIsRefused) {
  { ASSERT_TRUE(EmailIndex::Open(path_, keys_)); }
  ASSERT_EQ(chmod(path_.c_str(), 0644), 0);
  auto r = EmailIndex::Open(path_, keys_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("chmod 600"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace salvus::vault
