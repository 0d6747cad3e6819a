// Accounts with PostgreSQL as the main database (`salvus up --db
// postgresql://...`): after sign-up, a wrong password, a sign-in and a
// reset request, a pg_dump of the database holds none of the addresses.
// And `salvus hub` refuses a vault it could reach only in clear.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "util/child_process.h"
#include "util/postgres_server.h"
#include "util/raw_http.h"
#include "util/up_process.h"

namespace salvus {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testutil::ReadFile;

// The status and body of a POST (GET when `body` is empty) to /api/account/.
std::pair<int, std::string> Call(uint16_t port, const std::string& what,
                                 const std::string& body = "") {
  const std::string method = body.empty() ? "GET" : "POST";
  const std::string raw = testutil::RawHttp(
      port, method + " /api/account/" + what +
                " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  const size_t end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return {0, ""};
  return {std::stoi(raw.substr(9, 3)), raw.substr(end + 4)};
}

std::string Seal(const std::vector<unsigned char>& key, const std::string& email) {
  std::vector<unsigned char> out(crypto_box_SEALBYTES + email.size());
  crypto_box_seal(out.data(), reinterpret_cast<const unsigned char*>(email.data()), email.size(),
                  key.data());
  std::string b64(sodium_base64_ENCODED_LEN(out.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), out.data(), out.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.pop_back();
  return b64;
}

TEST(AccountsPostgres, NoAddressInAPgDump) {
  ASSERT_GE(sodium_init(), 0);
  testutil::PostgresServer pg;
  const std::string db = pg.start();
  testutil::UpSetup setup;
  setup.own_uids = false;
  testutil::UpProcess up(
      {"--kernel", "python", "--uid-base", "260000", "--password-cost", "min", "--db", db}, setup);
  ASSERT_TRUE(up.ok()) << up.log();
  std::vector<unsigned char> key(crypto_box_PUBLICKEYBYTES);
  ASSERT_TRUE(testutil::WaitFor(
      [&] {
        auto [status, body] = Call(up.port(), "vault-key");
        std::smatch m;
        if (status != 200 || !std::regex_search(body, m, std::regex("\"key\":\"([^\"]+)\"")))
          return false;
        const std::string b64 = m[1];
        size_t len = 0;
        return sodium_base642bin(key.data(), key.size(), b64.data(), b64.size(), nullptr, &len,
                                 nullptr, sodium_base64_VARIANT_ORIGINAL) == 0 &&
               len == key.size();
      },
      60s));
  const std::string ann = "pg.person@example.org";
  auto creds = [&](const std::string& email, const std::string& password) {
    return R"({"email":")" + Seal(key, email) + R"(","password":")" + password + "\"}";
  };
  EXPECT_EQ(Call(up.port(), "signup", creds(ann, "first password")).first, 200);
  EXPECT_EQ(Call(up.port(), "signin", creds(ann, "wrong password")).first, 401);
  EXPECT_EQ(Call(up.port(), "signin", creds(ann, "first password")).first, 200);
  EXPECT_EQ(Call(up.port(), "reset-request", R"({"email":")" + Seal(key, ann) + "\"}").first, 200);
  // The reset token reaches the database before the mail is written.
  ASSERT_TRUE(testutil::WaitFor(
      [&] { return fs::exists(up.data() + "/mail") && !fs::is_empty(up.data() + "/mail"); }, 30s));

  const std::string dump = up.dir() + "/dump.sql";
  ASSERT_EQ(std::system(("pg_dump '" + db + "' > " + dump + " 2>/dev/null").c_str()), 0);
  const std::string text = ReadFile(dump);
  EXPECT_NE(text.find("CREATE TABLE public.accounts"), std::string::npos);
  EXPECT_NE(text.find("reset_tokens"), std::string::npos);
  for (const std::string& a : {ann, std::string("pg.person"), std::string("example.org")}) {
    EXPECT_EQ(text.find(a), std::string::npos) << a << " in the pg_dump";
    EXPECT_EQ(ReadFile(up.dir() + "/up.out").find(a), std::string::npos) << a << " in the log";
  }
  EXPECT_EQ(up.Stop(), "");
}

TEST(AccountsHubFlags, AVaultElsewhereOnlyOverTls) {
  char tmpl[] = "/tmp/salvus-hub-vault-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  fs::create_directories(dir + "/web");
  std::ofstream(dir + "/web/index.html") << "stub\n";
  std::ofstream(dir + "/token") << "a-token-for-this-test-0123456789\n";
  fs::permissions(dir + "/token", fs::perms::owner_read | fs::perms::owner_write);
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {SALVUS_BINARY,  "hub",         "--listen", "127.0.0.1:0",
                                     "--compute",    "127.0.0.1:1", "--web",    dir + "/web",
                                     "--token-file", dir + "/token"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::remove((dir + "/out").c_str());
    testutil::Child c(args, dir + "/out", dir + "/out");
    const int code = c.Wait(60s);
    return std::pair{code, ReadFile(dir + "/out")};
  };
  auto [code, out] = run({"--db", "sqlite:" + dir + "/db", "--vault", "192.0.2.1:6100"});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--vault-ca"), std::string::npos) << out;
  std::tie(code, out) = run({"--vault", "127.0.0.1:6100"});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--db"), std::string::npos) << out;
  std::tie(code, out) = run(
      {"--db", "sqlite:" + dir + "/db", "--vault", "127.0.0.1:6100", "--password-cost", "cheap"});
  EXPECT_NE(code, 0) << out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace salvus
