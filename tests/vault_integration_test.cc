// `salvus vault` for real: keys under a passphrase given on a descriptor, TLS
// against a CA made with `openssl`, the token, Debian's aiosmtpd as the relay.
// A test plays the hub (util/vault_client.h) and seals as a browser would.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "util/child_process.h"
#include "util/free_port.h"
#include "util/vault_client.h"
#include "util/vault_fixture.h"
#include "vault/keys.h"
#include "vault/link.h"

namespace salvus {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testutil::Child;
using testutil::kPassphrase;
using testutil::kToken;
using testutil::PassphrasePipe;
using testutil::Read;
using testutil::RunSalvus;
using testutil::VaultClient;
using testutil::VaultTest;
using testutil::WaitFor;

constexpr char kAnn[] = "0123456789abcdef0123456789abcdef";
constexpr char kBob[] = "fedcba9876543210fedcba9876543210";
constexpr char kLinked[] = "11111111111111111111111111111111";

TEST_F(VaultTest, KeysFileIsPrivateAndEncrypted) {
  const std::string keys = dir_ + "/keys";
  EXPECT_EQ(fs::status(keys).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_NE(Read(keys).find("kdf argon2id13 "), std::string::npos);
  // init never replaces a keys file.
  PassphrasePipe pass("another passphrase\n");
  std::string out;
  EXPECT_EQ(RunSalvus(dir_, {"vault", "init", "--keys", keys, "--passphrase-fd", pass.fd()}, &out),
            1);
  EXPECT_NE(out.find("exists already"), std::string::npos) << out;
}

TEST_F(VaultTest, WrongPassphraseIsRefused) {
  PassphrasePipe pass("not the passphrase\n");
  std::string out;
  EXPECT_EQ(RunSalvus(dir_, VaultArgs(pass), &out), 2);
  EXPECT_NE(out.find("wrong passphrase"), std::string::npos) << out;
}

TEST_F(VaultTest, KeysFileOthersMayReadIsRefused) {
  const std::string keys = dir_ + "/keys";
  ASSERT_EQ(chmod(keys.c_str(), 0640), 0);
  PassphrasePipe pass(std::string(kPassphrase) + "\n");
  std::string out;
  EXPECT_EQ(RunSalvus(dir_, VaultArgs(pass), &out), 2);
  ASSERT_EQ(chmod(keys.c_str(), 0600), 0);
  EXPECT_NE(out.find("mode 0640"), std::string::npos) << out;
}

TEST_F(VaultTest, CommandLineMistakesAreRefused) {
  std::string out;
  // Without TLS, only on loopback; a relay or a mail folder, not both.
  EXPECT_EQ(RunSalvus(dir_,
                      {"vault", "--keys", dir_ + "/keys", "--db", dir_ + "/x.db", "--token-file",
                       dir_ + "/token", "--listen", "0.0.0.0:0", "--mail-dir", dir_ + "/mail"},
                      &out),
            2);
  EXPECT_NE(out.find("loopback address only"), std::string::npos) << out;
  EXPECT_EQ(RunSalvus(dir_,
                      {"vault", "--keys", dir_ + "/keys", "--db", dir_ + "/x.db", "--token-file",
                       dir_ + "/token"},
                      &out),
            2);
  EXPECT_NE(out.find("either --smtp-url"), std::string::npos) << out;
}

TEST_F(VaultTest, RegistersAndLooksUpASealedAddress) {
  const uint16_t port = StartVault();
  ASSERT_NE(port, 0) << VaultLog();
  auto hub = Hub(port);
  EXPECT_EQ(PublicKey(*hub).size(), 32u);
  auto r = Register(*hub, "Ann.Lee@Example.org", kAnn);
  ASSERT_TRUE(r.has_registered()) << r.DebugString();
  EXPECT_TRUE(r.registered().created());
  auto again = Register(*hub, "ann.lee@example.org", kBob);
  ASSERT_TRUE(again.has_registered()) << again.DebugString();
  EXPECT_FALSE(again.registered().created());
  auto found = Lookup(*hub, " ANN.LEE@example.ORG ");
  EXPECT_TRUE(found.looked_up().found()) << found.DebugString();
  EXPECT_EQ(found.looked_up().account_id(), kAnn);
  EXPECT_FALSE(Lookup(*hub, "nobody@example.org").looked_up().found());
  auto other = Hub(port);  // another hub sees the same rows
  EXPECT_EQ(Lookup(*other, "ann.lee@example.org").looked_up().account_id(), kAnn);
}

TEST_F(VaultTest, ResetMailGoesThroughTheRelay) {
  const uint16_t port = StartVault();
  ASSERT_NE(port, 0) << VaultLog();
  auto hub = Hub(port);
  Register(*hub, "mail.me@example.org", "00000000000000000000000000000abc");
  proto::VaultRequest r;
  r.set_id(5);
  r.mutable_send_mail()->set_account_id("00000000000000000000000000000abc");
  r.mutable_send_mail()->set_kind(proto::VaultSendMail::PASSWORD_RESET);
  r.mutable_send_mail()->set_token("Reset_Token-0123456789abcdef");
  auto a = hub->Ask(r);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id(), 5u);
  ASSERT_TRUE(a->has_mail_sent()) << a->DebugString() << VaultLog();
  std::string mail;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::error_code ec;
        for (auto& e : fs::directory_iterator(dir_ + "/maildir/new", ec)) {
          const std::string m = Read(e.path());
          if (m.find("Reset_Token-0123456789abcdef") != std::string::npos) mail = m;
        }
        return !mail.empty();
      },
      20s));
  EXPECT_NE(mail.find("To: <mail.me@example.org>"), std::string::npos) << mail;
  EXPECT_NE(mail.find("https://salvus.example/#reset=Reset_Token-0123456789abcdef"),
            std::string::npos)
      << mail;
  // An account without an address gets no mail.
  r.mutable_send_mail()->set_account_id(kBob);
  EXPECT_EQ(hub->Ask(r)->error().code(), proto::Error::NOT_FOUND);
}

TEST_F(VaultTest, AClientWithoutTheTokenIsRefused) {
  const uint16_t port = StartVault();
  ASSERT_NE(port, 0) << VaultLog();
  {
    VaultClient c(port, dir_ + "/ca.pem");
    EXPECT_FALSE(c.Hello("not-the-cluster-token-000"));
    EXPECT_FALSE(c.Receive());  // closed
  }
  {
    VaultClient c(port, dir_ + "/ca.pem");
    proto::VaultRequest r;
    r.set_id(9);
    r.mutable_lookup()->set_sealed_email("x");
    auto a = c.Ask(r);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->error().code(), proto::Error::UNAUTHENTICATED);
    EXPECT_FALSE(c.Receive());
  }
  EXPECT_NE(VaultLog().find("refused: wrong token"), std::string::npos);
  EXPECT_NE(VaultLog().find("refused: first message is not hello"), std::string::npos);
}

TEST_F(VaultTest, OversizedAndMalformedFramesAreRefused) {
  const uint16_t port = StartVault();
  ASSERT_NE(port, 0) << VaultLog();
  {  // Before hello: at most core::kMaxHelloFrame (4 KiB).
    VaultClient c(port, dir_ + "/ca.pem");
    proto::VaultRequest r;
    r.mutable_hello()->set_token(std::string(5000, 'x'));
    c.Send(r);
    EXPECT_FALSE(c.Receive());
    EXPECT_TRUE(
        WaitFor([&] { return VaultLog().find("before hello; closed") != std::string::npos; }));
  }
  {  // After hello: at most 16 KiB.
    auto c = Hub(port);
    proto::VaultRequest r;
    r.mutable_lookup()->set_sealed_email(std::string(20000, 'x'));
    c->Send(r);
    EXPECT_FALSE(c->Receive());
    EXPECT_TRUE(WaitFor(
        [&] { return VaultLog().find("frame over 16384 bytes; closed") != std::string::npos; }));
  }
  {  // Not a VaultRequest: a clear error, and the connection stays.
    auto c = Hub(port);
    c->SendRaw(std::string("\0\0\0\3\xff\xff\xff", 7));
    auto a = c->Receive();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->error().code(), proto::Error::BAD_REQUEST);
    EXPECT_NE(a->error().text().find("malformed"), std::string::npos);
    EXPECT_FALSE(Lookup(*c, "ann@example.org").has_error());
  }
  {  // A sealed address over 512 bytes.
    auto c = Hub(port);
    proto::VaultRequest r;
    r.set_id(6);
    r.mutable_lookup()->set_sealed_email(std::string(600, 'x'));
    EXPECT_EQ(c->Ask(r)->error().code(), proto::Error::BAD_REQUEST);
  }
}

TEST_F(VaultTest, ConnectionsAreCapped) {
  const uint16_t port = StartVault({"--max-connections", "2"});
  ASSERT_NE(port, 0) << VaultLog();
  auto a = Hub(port);
  auto b = Hub(port);
  EXPECT_THROW(VaultClient(port, dir_ + "/ca.pem"), std::exception);
  EXPECT_TRUE(
      WaitFor([&] { return VaultLog().find("2 connections already") != std::string::npos; }));
  a.reset();  // one leaves: another may come
  EXPECT_TRUE(WaitFor([&] {
    try {
      VaultClient c(port, dir_ + "/ca.pem");
      return c.Hello(kToken);
    } catch (const std::exception&) {
      return false;
    }
  }));
}

TEST_F(VaultTest, MailsInFlightPerConnectionAreCapped) {
  // A relay that never answers: it listens, but nothing accepts, so every
  // mail stays in flight.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t port = StartVault(
      {"--smtp-url", "smtp://127.0.0.1:" + std::to_string(silent.local_endpoint().port())});
  ASSERT_NE(port, 0) << VaultLog();
  auto hub = Hub(port);
  ASSERT_TRUE(Register(*hub, "slow@example.org", kAnn).registered().created());
  proto::VaultRequest r;
  r.mutable_send_mail()->set_account_id(kAnn);
  r.mutable_send_mail()->set_kind(proto::VaultSendMail::PASSWORD_RESET);
  r.mutable_send_mail()->set_token("Reset_Token-0123456789abcdef");
  // 5 per account per hour: a second account for the rest.
  ASSERT_TRUE(Register(*hub, "slow2@example.org", kBob).registered().created());
  for (int i = 0; i < 8; ++i) {
    r.set_id(100 + i);
    r.mutable_send_mail()->set_account_id(i < 5 ? kAnn : kBob);
    hub->Send(r);
  }
  r.set_id(200);
  auto a = hub->Ask(r);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id(), 200u);
  EXPECT_EQ(a->error().code(), proto::Error::RESOURCE_EXHAUSTED) << a->DebugString();
}

TEST_F(VaultTest, NoAddressInClearInTheDatabaseOrTheLog) {
  const uint16_t port = StartVault();
  ASSERT_NE(port, 0) << VaultLog();
  auto hub = Hub(port);
  ASSERT_TRUE(
      Register(*hub, "plain.text.person@secret-domain.example", "0000000000000000000000000000cafe")
          .registered()
          .created());
  ASSERT_TRUE(Lookup(*hub, "plain.text.person@secret-domain.example").looked_up().found());
  hub.reset();
  vault_->Signal(SIGTERM);
  EXPECT_EQ(vault_->Wait(30s), 0);
  const std::string db = Read(dir_ + "/vault.db");
  ASSERT_GT(db.size(), 0u);
  EXPECT_EQ(fs::status(dir_ + "/vault.db").permissions(),
            fs::perms::owner_read | fs::perms::owner_write);
  for (const char* s :
       {"plain.text.person", "secret-domain", "mail.me", "ann.lee", "example.org"}) {
    EXPECT_EQ(db.find(s), std::string::npos) << s;
    EXPECT_EQ(VaultLog().find(s), std::string::npos) << s;
  }
}

// What a hub links: vault::VaultLink on an event loop, calls overlapping.
TEST_F(VaultTest, HubLinkCallsTheVault) {
  const uint16_t port = StartVault();
  ASSERT_NE(port, 0) << VaultLog();
  boost::asio::io_context io;
  auto link_to = [&](const std::string& token) {
    vault::VaultLinkOptions o;
    o.address = {"127.0.0.1", port};
    o.token = token;
    o.tls_options.ca_file = dir_ + "/ca.pem";
    return std::make_unique<vault::VaultLink>(io.get_executor(), o);
  };
  auto link = link_to(kToken);
  auto stranger = link_to("not-the-cluster-token-000");
  std::vector<std::string> seen;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        proto::VaultRequest pk;
        pk.mutable_get_public_key();
        auto key = co_await link->Call(pk);
        if (!key) {
          seen.push_back("error: " + key.error());
          io.stop();
          co_return;
        }
        proto::VaultRequest reg;
        reg.mutable_register_email()->set_sealed_email(
            vault::SealTo(key->public_key().key(), "linked@example.org"));
        reg.mutable_register_email()->set_account_id(kLinked);
        proto::VaultRequest look;
        look.mutable_lookup()->set_sealed_email(
            vault::SealTo(key->public_key().key(), "LINKED@example.org"));
        auto r = co_await link->Call(reg);
        seen.push_back(r && r->registered().created() ? "created" : "not created");
        auto l = co_await link->Call(look);
        seen.push_back(l ? l->looked_up().account_id() : "error: " + l.error());
        auto refused = co_await stranger->Call(pk);
        seen.push_back(refused ? "answered" : refused.error());
        io.stop();
      },
      boost::asio::detached);
  io.run_for(60s);
  ASSERT_EQ(seen.size(), 3u) << (seen.empty() ? "" : seen[0]);
  EXPECT_EQ(seen[0], "created");
  EXPECT_EQ(seen[1], kLinked);
  EXPECT_NE(seen[2].find("refused this hub"), std::string::npos) << seen[2];
}

}  // namespace
}  // namespace salvus
