#include "vault/keys_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/hex.h"

namespace salvus::vault {
namespace {

namespace fs = std::filesystem;

class KeysFile : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitSodium());
    char tmpl[] = "/tmp/salvus-vault-keys-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/keys";
  }
  void TearDown() override { fs::remove_all(dir_); }
  static PassphraseSource Pass(std::string p) {
    return [p] { return std::expected<std::string, std::string>(p); };
  }
  static KdfParams Min() { return KdfParamsNamed("min").value(); }
  std::string Text() const {
    std::stringstream ss;
    ss << std::ifstream(path_).rdbuf();
    return ss.str();
  }
  std::string dir_, path_;
};

TEST_F(KeysFile, EncryptedRoundTrip) {
  const VaultKeys k = VaultKeys::Generate();
  ASSERT_TRUE(WriteKeysFile(path_, k, "correct horse battery", Min()));
  EXPECT_EQ(fs::status(path_).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  auto r = ReadKeysFile(path_, Pass("correct horse battery"));
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->encrypted);
  EXPECT_EQ(r->keys.index_key, k.index_key);
  EXPECT_EQ(r->keys.secret_key, k.secret_key);
  // Nothing of the keys in clear.
  EXPECT_NE(Text().find("kdf argon2id13 "), std::string::npos);
  EXPECT_EQ(Text().find(core::HexEncode(k.Serialize())), std::string::npos);
  EXPECT_EQ(Text().find(core::HexEncode(k.Serialize().substr(64))), std::string::npos);
}

TEST_F(KeysFile, WrongPassphraseIsRefused) {
  ASSERT_TRUE(WriteKeysFile(path_, VaultKeys::Generate(), "correct horse battery", Min()));
  auto r = ReadKeysFile(path_, Pass("correct horse batterY"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("wrong passphrase"), std::string::npos) << r.error();
}

TEST_F(KeysFile, PlainFileNeedsNoPassphrase) {
  const VaultKeys k = VaultKeys::Generate();
  ASSERT_TRUE(WriteKeysFile(path_, k, std::nullopt, Min()));
  bool asked = false;
  auto r = ReadKeysFile(path_, [&] {
    asked = true;
    return std::expected<std::string, std::string>("x");
  });
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(asked);
  EXPECT_FALSE(r->encrypted);
  EXPECT_EQ(r->keys.public_key, k.public_key);
}

TEST_F(KeysFile, NeverReplacesAnExistingFile) {
  ASSERT_TRUE(WriteKeysFile(path_, VaultKeys::Generate(), std::nullopt, Min()));
  const std::string before = Text();
  auto r = WriteKeysFile(path_, VaultKeys::Generate(), std::nullopt, Min());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("exists already"), std::string::npos);
  EXPECT_EQ(Text(), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(KeysFile, GroupOrWorldAccessIsRefused) {
  ASSERT_TRUE(WriteKeysFile(path_, VaultKeys::Generate(), std::nullopt, Min()));
  for (mode_t mode : {0640, 0604, 0620, 0602, 0700 | 0044}) {
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
    auto r = ReadKeysFile(path_, Pass("x"));
    ASSERT_FALSE(r) << std::oct << mode;
    EXPECT_NE(r.error().find("chmod 600"), std::string::npos) << r.error();
  }
  ASSERT_EQ(chmod(path_.c_str(), 0400), 0);
  EXPECT_TRUE(ReadKeysFile(path_, Pass("x")));
}

TEST_F(KeysFile, AnotherOwnerIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the file away";
  ASSERT_TRUE(WriteKeysFile(path_, VaultKeys::Generate(), std::nullopt, Min()));
  ASSERT_EQ(chown(path_.c_str(), 65534, 65534), 0);
  auto r = ReadKeysFile(path_, Pass("x"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not by this user"), std::string::npos) << r.error();
}

TEST_F(KeysFile, SymlinkIsRefused) {
  ASSERT_TRUE(WriteKeysFile(path_, VaultKeys::Generate(), std::nullopt, Min()));
  fs::create_symlink(path_, dir_ + "/link");
  EXPECT_FALSE(ReadKeysFile(dir_ + "/link", Pass("x")));
}

TEST_F(KeysFile, DamagedOrHostileFilesAreRefused) {
  auto write = [&](const std::string& text) {
    fs::remove(path_);
    std::ofstream(path_) << text;
    chmod(path_.c_str(), 0600);
    return ReadKeysFile(path_, Pass("pw"));
  };
  EXPECT_FALSE(write("hello\n"));
  EXPECT_FALSE(write("salvus-vault-keys 1\nkdf none\nkeys 00\n"));
  EXPECT_FALSE(write("salvus-vault-keys 1\nkdf none\n"));
  EXPECT_FALSE(write("salvus-vault-keys 1\nkdf none\nkdf none\nkeys 00\n"));
  EXPECT_FALSE(write("salvus-vault-keys 1\nbogus 1\n"));
  EXPECT_FALSE(write(std::string(5000, 'x')));
  // Limits past SENSITIVE (a file asking for all the memory) are refused unrun.
  auto r =
      write("salvus-vault-keys 1\nkdf argon2id13 4 1099511627776\nsalt " + std::string(32, '0') +
            "\nnonce " + std::string(48, '0') + "\nkeys " + std::string(224, '0') + "\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("MIN..SENSITIVE"), std::string::npos) << r.error();
}

TEST_F(KeysFile, KdfLevels) {
  EXPECT_TRUE(KdfParamsNamed("interactive"));
  EXPECT_TRUE(KdfParamsNamed("moderate"));
  EXPECT_TRUE(KdfParamsNamed("sensitive"));
  EXPECT_FALSE(KdfParamsNamed("fast"));
  EXPECT_FALSE(WriteKeysFile(path_, VaultKeys::Generate(), std::string(), Min()));
}

}  // namespace
}  // namespace salvus::vault
