// Accounts for real: `salvus up` (its hub, its vault started beside it,
// keys made on first start, mail written to data/mail/), driven over HTTP
// as a page would: the e-mail sealed here to the vault's public key. Sign
// up, sign in, wrong passwords until the back-off, reset by the mailed
// link, sign out everywhere, the vault stopped; then no address used here
// may be found in the main database or the hub's logs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "util/child_process.h"
#include "util/compute_process.h"
#include "util/raw_http.h"
#include "util/run_cell.h"
#include "util/up_process.h"

namespace salvus {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testutil::ReadFile;
using testutil::UpProcess;

// Each test its own address: ctest runs each in a process of its own.
std::string Address(const std::string& who) { return who + ".integration@example.org"; }
const std::string kNobody = Address("nobody");

struct Answer {
  int status = 0;
  std::string head, body;
  std::string Cookie() const {  // "salvus_session=..." from Set-Cookie
    std::smatch m;
    return std::regex_search(head, m, std::regex("Set-Cookie: (salvus_session=[0-9a-f]*)"))
               ? std::string(m[1])
               : "";
  }
};

Answer Http(uint16_t port, const std::string& method, const std::string& path,
            const std::string& body = "", const std::string& cookie = "",
            const std::string& origin = "") {
  std::string req = method + " /api/account/" + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                    "Connection: close\r\nContent-Type: application/json\r\n";
  if (!cookie.empty()) req += "Cookie: " + cookie + "\r\n";
  if (!origin.empty()) req += "Origin: " + origin + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const std::string raw = testutil::RawHttp(port, req);
  Answer a;
  const size_t end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return a;
  a.status = std::stoi(raw.substr(9, 3));
  a.head = raw.substr(0, end);
  a.body = raw.substr(end + 4);
  return a;
}

class Accounts : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_GE(sodium_init(), 0);
    testutil::UpSetup setup;
    setup.own_uids = false;
    up_ = new UpProcess({"--kernel", "python", "--uid-base", "260000", "--password-cost", "min",
                         "--sign-in-free-failures", "2"},
                        setup);
    ASSERT_TRUE(up_->ok()) << up_->log();
    // The vault starts beside the hub: its key, once it answers.
    ASSERT_TRUE(testutil::WaitFor(
        [] {
          auto a = Http(up_->port(), "GET", "vault-key");
          std::smatch m;
          if (a.status != 200 || !std::regex_search(a.body, m, std::regex("\"key\":\"([^\"]+)\"")))
            return false;
          key_.resize(crypto_box_PUBLICKEYBYTES);
          size_t len = 0;
          const std::string b64 = m[1];
          return sodium_base642bin(key_.data(), key_.size(), b64.data(), b64.size(), nullptr, &len,
                                   nullptr, sodium_base64_VARIANT_ORIGINAL) == 0 &&
                 len == key_.size();
        },
        60s))
        << up_->log() << ReadFile(up_->data() + "/vault.log");
  }
  static void TearDownTestSuite() {
    delete up_;
    up_ = nullptr;
  }

  static std::string Seal(const std::string& email) {
    std::vector<unsigned char> out(crypto_box_SEALBYTES + email.size());
    crypto_box_seal(out.data(), reinterpret_cast<const unsigned char*>(email.data()), email.size(),
                    key_.data());
    std::string b64(sodium_base64_ENCODED_LEN(out.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(b64.data(), b64.size(), out.data(), out.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    b64.pop_back();
    return b64;
  }
  static std::string Creds(const std::string& email, const std::string& password) {
    return R"({"email":")" + Seal(email) + R"(","password":")" + password + "\"}";
  }
  static Answer Post(const std::string& what, const std::string& body,
                     const std::string& cookie = "") {
    return Http(up_->port(), "POST", what, body, cookie);
  }
  static bool SignedIn(const std::string& cookie) {
    return Http(up_->port(), "GET", "me", "", cookie).body.find("\"signedIn\":true") !=
           std::string::npos;
  }

  static inline UpProcess* up_ = nullptr;
  static inline std::vector<unsigned char> key_;
};

// The reset link in the mail to `email`, once it is in data/mail/.
std::string ResetLinkTo(const std::string& mail_dir, const std::string& email) {
  std::string token;
  testutil::WaitFor(
      [&] {
        if (!fs::exists(mail_dir)) return false;
        for (auto& f : fs::directory_iterator(mail_dir)) {
          std::smatch m;
          const std::string text = ReadFile(f.path());
          if (text.find("To: <" + email + ">") != std::string::npos &&
              std::regex_search(text, m, std::regex("#reset=([0-9a-f]{64})"))) {
            token = m[1];
          }
        }
        return !token.empty();
      },
      30s);
  return token;
}

TEST_F(Accounts, SignUpSignOutSignIn) {
  const std::string kAnn = Address("a");
  // Keys made on first start, 0600, with a warning that they want a passphrase.
  struct stat st {};
  ASSERT_EQ(stat((up_->data() + "/vault/keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(ReadFile(up_->dir() + "/up.out").find("a production vault wants a passphrase"),
            std::string::npos);
  EXPECT_NE(ReadFile(up_->dir() + "/up.out").find(up_->data() + "/mail/"), std::string::npos);

  auto up = Post("signup", Creds(kAnn, "first password"));
  ASSERT_EQ(up.status, 200) << up.head << up.body;
  EXPECT_NE(up.head.find("HttpOnly; SameSite=Lax"), std::string::npos) << up.head;
  EXPECT_TRUE(SignedIn(up.Cookie()));
  EXPECT_EQ(Post("signup", Creds(kAnn, "other password")).status, 409);
  EXPECT_EQ(Post("signout", "{}", up.Cookie()).status, 200);
  EXPECT_FALSE(SignedIn(up.Cookie()));
  auto in = Post("signin", Creds(kAnn, "first password"));
  ASSERT_EQ(in.status, 200) << in.body;
  EXPECT_TRUE(SignedIn(in.Cookie()));
  // Another site's page may not sign anyone in.
  EXPECT_EQ(
      Http(up_->port(), "POST", "signin", Creds(kAnn, "first password"), "", "http://evil.example")
          .status,
      403);
}

TEST_F(Accounts, WrongPasswordThenTheBackOff) {
  const std::string kAnn = Address("b");
  ASSERT_EQ(Post("signup", Creds(kAnn, "first password")).status, 200);
  auto wrong = Post("signin", Creds(kAnn, "not the password"));
  auto nobody = Post("signin", Creds(kNobody, "first password"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(nobody.status, 401);
  EXPECT_EQ(wrong.body, nobody.body);
  // Two failures are free (--sign-in-free-failures 2); the third makes the
  // next one wait.
  EXPECT_EQ(Post("signin", Creds(kAnn, "still not it")).status, 401);
  auto limited = Post("signin", Creds(kAnn, "first password"));
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_NE(limited.head.find("Retry-After: "), std::string::npos);
  // The back-off passes (1 s, then the right password clears it).
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(Post("signin", Creds(kAnn, "first password")).status, 200);
}

TEST_F(Accounts, ResetByTheMailedLink) {
  const std::string kAnn = Address("c");
  ASSERT_EQ(Post("signup", Creds(kAnn, "first password")).status, 200);
  EXPECT_EQ(Post("reset-request", R"({"email":")" + Seal(kNobody) + "\"}").body,
            Post("reset-request", R"({"email":")" + Seal(kAnn) + "\"}").body);
  const std::string token = ResetLinkTo(up_->data() + "/mail", kAnn);
  ASSERT_FALSE(token.empty()) << ReadFile(up_->data() + "/vault.log");
  auto before = Post("signin", Creds(kAnn, "first password"));
  auto reset = Post("reset", R"({"token":")" + token + R"(","password":"second password"})");
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_TRUE(SignedIn(reset.Cookie()));
  EXPECT_FALSE(SignedIn(before.Cookie()));  // the old password's sessions are gone
  EXPECT_EQ(Post("reset", R"({"token":")" + token + R"(","password":"third password"})").status,
            400);
  EXPECT_EQ(Post("signin", Creds(kAnn, "second password")).status, 200);
}

TEST_F(Accounts, SignOutEverywhere) {
  const std::string kAnn = Address("d");
  auto a = Post("signup", Creds(kAnn, "second password"));
  auto b = Post("signin", Creds(kAnn, "second password"));
  ASSERT_TRUE(SignedIn(a.Cookie()) && SignedIn(b.Cookie()));
  EXPECT_EQ(Post("signout-everywhere", "{}", a.Cookie()).status, 200);
  EXPECT_FALSE(SignedIn(a.Cookie()));
  EXPECT_FALSE(SignedIn(b.Cookie()));
}

TEST_F(Accounts, VaultStopped) {
  const std::string kAnn = Address("e");
  auto in = Post("signup", Creds(kAnn, "second password"));
  ASSERT_EQ(in.status, 200);
  std::vector<pid_t> vaults = testutil::ProcessesMatching(up_->data() + "/vault.log");
  ASSERT_EQ(vaults.size(), 1u);
  ASSERT_EQ(kill(vaults[0], SIGSTOP), 0);  // stopped, not dead: `up` would restart it
  auto down = Post("signin", Creds(kAnn, "second password"));
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_NE(down.body.find("accounts are unavailable"), std::string::npos) << down.body;
  // Signed-in browsers stay signed in; anonymous cells run.
  EXPECT_TRUE(SignedIn(in.Cookie()));
  auto c = testutil::ConnectTo(*up_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(testutil::RunCell(*c, "print(2 + 2)"), "4\n");
  ASSERT_EQ(kill(vaults[0], SIGCONT), 0);
  EXPECT_TRUE(testutil::WaitFor(
      [&] { return Post("signin", Creds(kAnn, "second password")).status == 200; }, 30s));
}

// After sign-up, sign-in, a wrong password and a reset: the addresses are
// nowhere they must not be (the hub's log, the main database).
TEST_F(Accounts, NoAddressInTheDatabaseOrTheLogs) {
  const std::string kAnn = Address("f");
  ASSERT_EQ(Post("signup", Creds(kAnn, "first password")).status, 200);
  EXPECT_EQ(Post("signin", Creds(kAnn, "wrong password")).status, 401);
  EXPECT_EQ(Post("signin", Creds(kNobody, "wrong password")).status, 401);
  ASSERT_EQ(Post("signin", Creds(kAnn, "first password")).status, 200);
  EXPECT_EQ(Post("reset-request", R"({"email":")" + Seal(kAnn) + "\"}").status, 200);
  ASSERT_FALSE(ResetLinkTo(up_->data() + "/mail", kAnn).empty());
  const std::string data = up_->data();
  const std::string dir = up_->dir();
  EXPECT_EQ(up_->Stop(), "");
  std::vector<std::string> files = {dir + "/up.out", data + "/compute.log"};
  for (auto& f : fs::directory_iterator(data)) {
    const std::string name = f.path().filename();
    if (name.starts_with("salvus.db")) files.push_back(f.path());  // and -wal, -shm
  }
  // The vault's own file holds addresses sealed only.
  files.push_back(data + "/vault/vault.sqlite");
  files.push_back(data + "/vault.log");
  ASSERT_GE(files.size(), 5u);
  for (const std::string& f : files) {
    const std::string text = ReadFile(f);
    for (const std::string& address :
         {kAnn, kNobody, std::string("integration@example"), std::string("example.org")}) {
      EXPECT_EQ(text.find(address), std::string::npos) << address << " in " << f;
    }
  }
  EXPECT_GT(ReadFile(data + "/salvus.db").size(), 0u);
  EXPECT_GT(ReadFile(data + "/vault/vault.sqlite").size(), 0u);
  EXPECT_NE(ReadFile(dir + "/up.out").find("accounts: new account"), std::string::npos);
  // The search finds an address where one must be: the mails sent to it.
  bool mailed = false;
  for (auto& f : fs::directory_iterator(data + "/mail")) {
    mailed = mailed || ReadFile(f.path()).find(kAnn) != std::string::npos;
  }
  EXPECT_TRUE(mailed);
}

}  // namespace
}  // namespace salvus
