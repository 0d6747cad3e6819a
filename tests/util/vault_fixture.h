// Test helper: a `salvus vault` for real, as vault tests start it: keys
// under a passphrase (given on a descriptor), TLS against a CA made with
// `openssl`, the cluster token, Debian's aiosmtpd as the relay. A test plays
// the hub (util/vault_client.h) and seals as a browser would.
#pragma once

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
#include "vault/keys.h"

namespace salvus::testutil {

using namespace std::chrono_literals;

constexpr char kToken[] = "vault-test-token-0123456789";
constexpr char kPassphrase[] = "a long vault passphrase";

inline std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool Shell(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

// A pipe holding `text`, whose read end a child inherits: --passphrase-fd.
class PassphrasePipe {
 public:
  explicit PassphrasePipe(const std::string& text) {
    int p[2];
    if (pipe(p) != 0) return;
    (void)!write(p[1], text.data(), text.size());
    close(p[1]);
    fd_ = p[0];
  }
  ~PassphrasePipe() {
    if (fd_ >= 0) close(fd_);
  }
  std::string fd() const { return std::to_string(fd_); }

 private:
  int fd_ = -1;
};

// Runs `salvus ARGS...` to its end; its exit code, output in `out`.
inline int RunSalvus(const std::string& dir, std::vector<std::string> args, std::string* out) {
  args.insert(args.begin(), SALVUS_BINARY);
  std::remove((dir + "/run.out").c_str());
  Child c(args, dir + "/run.out", dir + "/run.out");
  const int code = c.Wait(120s);
  *out = Read(dir + "/run.out");
  return code;
}

// Everything one test suite shares: a folder, certificates, a token, the
// keys (made once through `salvus vault init`), an SMTP sink.
class VaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(vault::InitSodium());
    char tmpl[] = "/tmp/salvus-vault-it-XXXXXX";
    dir_ = mkdtemp(tmpl);
    const std::string d = dir_ + "/";
    std::ofstream(d + "ext.cnf") << "subjectAltName=IP:127.0.0.1\n";
    ASSERT_TRUE(Shell("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=vault-test-ca "
                      "-keyout " +
                      d + "ca.key -out " + d + "ca.pem") &&
                Shell("openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout " + d +
                      "vault.key -out " + d + "vault.csr") &&
                Shell("openssl x509 -req -in " + d + "vault.csr -CA " + d + "ca.pem -CAkey " + d +
                      "ca.key -CAcreateserial -days 2 -extfile " + d + "ext.cnf -out " + d +
                      "vault.pem"));
    std::ofstream(d + "token") << kToken << "\n";
    // The keys, under a passphrase, at the cheapest level a person would use.
    PassphrasePipe pass(std::string(kPassphrase) + "\n");
    std::string out;
    ASSERT_EQ(RunSalvus(dir_,
                        {"vault", "init", "--keys", d + "keys", "--kdf", "interactive",
                         "--passphrase-fd", pass.fd()},
                        &out),
              0)
        << out;
    ASSERT_NE(out.find("public key "), std::string::npos) << out;
    // The SMTP relay: aiosmtpd writing each mail into a Maildir.
    smtp_port_ = testutil::FreeLoopbackPort();
    smtp_ = std::make_unique<Child>(
        std::vector<std::string>{"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l",
                                 "127.0.0.1:" + std::to_string(smtp_port_), "-c",
                                 "aiosmtpd.handlers.Mailbox", d + "maildir"},
        d + "smtp.log", d + "smtp.log");
    ASSERT_TRUE(WaitFor(
        [] {
          boost::asio::io_context io;
          boost::asio::ip::tcp::socket s(io);
          boost::system::error_code ec;
          s.connect({boost::asio::ip::make_address("127.0.0.1"), smtp_port_}, ec);
          return !ec;
        },
        30s))
        << Read(d + "smtp.log");
  }
  static void TearDownTestSuite() {
    smtp_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void TearDown() override {  // each test starts with an empty database
    vault_.reset();
    std::remove((dir_ + "/vault.db").c_str());
  }

  // `salvus vault` with TLS and the relay, the passphrase on `pass`.
  static std::vector<std::string> VaultArgs(const PassphrasePipe& pass,
                                            std::vector<std::string> extra = {}) {
    const std::string d = dir_ + "/";
    std::vector<std::string> args = {"vault",
                                     "--keys",
                                     d + "keys",
                                     "--passphrase-fd",
                                     pass.fd(),
                                     "--db",
                                     d + "vault.db",
                                     "--token-file",
                                     d + "token",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--port-file",
                                     d + "port",
                                     "--tls-cert",
                                     d + "vault.pem",
                                     "--tls-key",
                                     d + "vault.key",
                                     "--smtp-url",
                                     "smtp://127.0.0.1:" + std::to_string(smtp_port_),
                                     "--mail-from",
                                     "noreply@salvus.example",
                                     "--site-url",
                                     "https://salvus.example",
                                     "--log-file",
                                     d + "vault.log"};
    // --smtp-url given in `extra` replaces the sink's.
    if (std::find(extra.begin(), extra.end(), "--smtp-url") != extra.end()) {
      auto at = std::find(args.begin(), args.end(), "--smtp-url");
      args.erase(at, at + 2);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  // Starts it; its port (0: it exited).
  uint16_t StartVault(std::vector<std::string> extra = {}) {
    const std::string d = dir_ + "/";
    std::remove((d + "port").c_str());
    PassphrasePipe pass(std::string(kPassphrase) + "\n");
    std::vector<std::string> args = VaultArgs(pass, std::move(extra));
    args.insert(args.begin(), SALVUS_BINARY);
    vault_ = std::make_unique<Child>(args, d + "vault.out", d + "vault.out");
    pid_t pid = vault_->pid();
    return testutil::WaitForPortFile(d + "port", &pid, 60s);
  }
  std::string VaultLog() const { return Read(dir_ + "/vault.log") + Read(dir_ + "/vault.out"); }

  std::unique_ptr<VaultClient> Hub(uint16_t port) {
    auto c = std::make_unique<VaultClient>(port, dir_ + "/ca.pem");
    EXPECT_TRUE(c->Hello(kToken));
    return c;
  }
  static std::string PublicKey(VaultClient& c) {
    proto::VaultRequest r;
    r.set_id(2);
    r.mutable_get_public_key();
    auto a = c.Ask(r);
    return a ? a->public_key().key() : "";
  }
  static proto::VaultReply Register(VaultClient& c, const std::string& email,
                                    const std::string& account) {
    proto::VaultRequest r;
    r.set_id(3);
    r.mutable_register_email()->set_sealed_email(vault::SealTo(PublicKey(c), email));
    r.mutable_register_email()->set_account_id(account);
    return c.Ask(r).value_or(proto::VaultReply());
  }
  static proto::VaultReply Lookup(VaultClient& c, const std::string& email) {
    proto::VaultRequest r;
    r.set_id(4);
    r.mutable_lookup()->set_sealed_email(vault::SealTo(PublicKey(c), email));
    return c.Ask(r).value_or(proto::VaultReply());
  }

  static inline std::string dir_;
  static inline uint16_t smtp_port_ = 0;
  static inline std::unique_ptr<Child> smtp_;
  std::unique_ptr<Child> vault_;
};

}  // namespace salvus::testutil
