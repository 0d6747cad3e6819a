#include "vault/service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace salvus::vault {
namespace {

namespace fs = std::filesystem;

constexpr char kAnn[] = "0123456789abcdef0123456789abcdef";
constexpr char kBob[] = "fedcba9876543210fedcba9876543210";
constexpr int64_t kNow = 1'700'000'000;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitSodium());
    char tmpl[] = "/tmp/salvus-vault-svc-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto idx = EmailIndex::Open(dir_ + "/vault.db", keys_);
    ASSERT_TRUE(idx) << idx.error();
    index_.emplace(std::move(*idx));
    service_.emplace(keys_, *index_,
                     ServiceOptions{"noreply@salvus.example", "https://salvus.example"});
  }
  void TearDown() override {
    service_.reset();
    index_.reset();
    fs::remove_all(dir_);
  }

  std::string Seal(const std::string& email) {
    return SealTo(std::string(reinterpret_cast<const char*>(keys_.public_key.data()), 32), email);
  }
  proto::VaultReply Ask(const proto::VaultRequest& r, int64_t now = kNow) {
    auto out = service_->Handle(r, now);
    EXPECT_TRUE(std::holds_alternative<proto::VaultReply>(out));
    return std::holds_alternative<proto::VaultReply>(out) ? std::get<proto::VaultReply>(out)
                                                          : proto::VaultReply();
  }
  proto::VaultReply Register(const std::string& sealed, const std::string& account) {
    proto::VaultRequest r;
    r.set_id(7);
    r.mutable_register_email()->set_sealed_email(sealed);
    r.mutable_register_email()->set_account_id(account);
    return Ask(r);
  }
  proto::VaultReply Lookup(const std::string& sealed) {
    proto::VaultRequest r;
    r.set_id(8);
    r.mutable_lookup()->set_sealed_email(sealed);
    return Ask(r);
  }
  static proto::VaultRequest SendMail(const std::string& account,
                                      const std::string& token = "reset_token_0123456789") {
    proto::VaultRequest r;
    r.set_id(9);
    r.mutable_send_mail()->set_account_id(account);
    r.mutable_send_mail()->set_kind(proto::VaultSendMail::PASSWORD_RESET);
    r.mutable_send_mail()->set_token(token);
    return r;
  }

  std::string dir_;
  VaultKeys keys_ = VaultKeys::Generate();
  std::optional<EmailIndex> index_;
  std::optional<VaultService> service_;
};

TEST_F(ServiceTest, RegisterThenLookupByAnyCaseOfTheAddress) {
  auto r = Register(Seal("Ann@Example.org"), kAnn);
  EXPECT_EQ(r.id(), 7u);
  ASSERT_TRUE(r.has_registered()) << r.DebugString();
  EXPECT_TRUE(r.registered().created());
  auto l = Lookup(Seal("  ann@EXAMPLE.ORG\n"));
  EXPECT_EQ(l.id(), 8u);
  ASSERT_TRUE(l.has_looked_up());
  EXPECT_TRUE(l.looked_up().found());
  EXPECT_EQ(l.looked_up().account_id(), kAnn);
  auto none = Lookup(Seal("bob@example.org"));
  EXPECT_FALSE(none.looked_up().found());
  EXPECT_EQ(none.looked_up().account_id(), "");
}

TEST_F(ServiceTest, ASecondRegistrationSaysOnlyThatItExists) {
  ASSERT_TRUE(Register(Seal("ann@example.org"), kAnn).registered().created());
  auto again = Register(Seal("ann@example.org"), kBob);
  ASSERT_TRUE(again.has_registered());
  EXPECT_FALSE(again.registered().created());
  EXPECT_EQ(again.DebugString().find(kAnn), std::string::npos);
  // An account id that has an address already cannot take another.
  auto taken = Register(Seal("bob@example.org"), kAnn);
  EXPECT_EQ(taken.error().code(), proto::Error::BAD_REQUEST);
}

TEST_F(ServiceTest, BadInputIsRefusedWithoutEchoingIt) {
  EXPECT_EQ(Register(Seal("ann@example.org"), "ANN").error().code(), proto::Error::BAD_REQUEST);
  // Sealed to another key, or not sealed at all.
  const VaultKeys other = VaultKeys::Generate();
  auto wrong = Register(
      SealTo(std::string(reinterpret_cast<const char*>(other.public_key.data()), 32), "a@b.org"),
      kAnn);
  EXPECT_EQ(wrong.error().code(), proto::Error::BAD_REQUEST);
  EXPECT_NE(wrong.error().text().find("does not open"), std::string::npos);
  EXPECT_EQ(Lookup("ann@example.org").error().code(), proto::Error::BAD_REQUEST);
  // Opens, but is not an address: the error does not quote it.
  auto notaddr = Register(Seal("secret words"), kAnn);
  EXPECT_EQ(notaddr.error().code(), proto::Error::BAD_REQUEST);
  EXPECT_EQ(notaddr.error().text().find("secret"), std::string::npos);
}

TEST_F(ServiceTest, SealedEmailIsCapped) {
  const std::string big = Seal(std::string(kMaxSealedEmail, 'a') + "@example.org");
  auto r = Lookup(big);
  EXPECT_EQ(r.error().code(), proto::Error::BAD_REQUEST);
  EXPECT_NE(r.error().text().find("over 512 bytes"), std::string::npos) << r.error().text();
}

TEST_F(ServiceTest, PublicKeyIsTheBoxKey) {
  proto::VaultRequest r;
  r.set_id(3);
  r.mutable_get_public_key();
  auto out = Ask(r);
  EXPECT_EQ(out.public_key().key(),
            std::string(reinterpret_cast<const char*>(keys_.public_key.data()), 32));
}

TEST_F(ServiceTest, SendMailComposesTheResetMailForTheAccountsAddress) {
  ASSERT_TRUE(Register(Seal("Ann@Example.org"), kAnn).registered().created());
  auto out = service_->Handle(SendMail(kAnn), kNow);
  ASSERT_TRUE(std::holds_alternative<MailJob>(out));
  const MailJob& job = std::get<MailJob>(out);
  EXPECT_EQ(job.to, "ann@example.org");
  EXPECT_NE(job.message.find("https://salvus.example/#reset=reset_token_0123456789"),
            std::string::npos);
  EXPECT_EQ(Ask(SendMail(kBob)).error().code(), proto::Error::NOT_FOUND);
  EXPECT_EQ(Ask(SendMail(kAnn, "short")).error().code(), proto::Error::BAD_REQUEST);
  auto unknown_kind = SendMail(kAnn);
  unknown_kind.mutable_send_mail()->set_kind(proto::VaultSendMail::KIND_UNSPECIFIED);
  EXPECT_EQ(Ask(unknown_kind).error().code(), proto::Error::BAD_REQUEST);
}

TEST_F(ServiceTest, MailsPerAccountAreCappedWithinTheWindow) {
  ASSERT_TRUE(Register(Seal("ann@example.org"), kAnn).registered().created());
  for (int i = 0; i < kMailsPerAccount; ++i) {
    EXPECT_TRUE(std::holds_alternative<MailJob>(service_->Handle(SendMail(kAnn), kNow + i)));
  }
  auto r = Ask(SendMail(kAnn), kNow + 10);
  EXPECT_EQ(r.error().code(), proto::Error::RATE_LIMITED);
  // An hour after the first, one more may go.
  EXPECT_TRUE(
      std::holds_alternative<MailJob>(service_->Handle(SendMail(kAnn), kNow + kMailWindow)));
}

TEST_F(ServiceTest, OnlyTheVaultsRequestsAreAnswered) {
  proto::VaultRequest empty;
  empty.set_id(4);
  EXPECT_EQ(Ask(empty).error().code(), proto::Error::BAD_REQUEST);
  proto::VaultRequest hello;
  hello.mutable_hello()->set_token("x");
  EXPECT_EQ(Ask(hello).error().code(), proto::Error::BAD_REQUEST);
}

}  // namespace
}  // namespace salvus::vault
