// The account endpoints against a real vault (in process, plain TCP on
// loopback, mail written to files) and an in-memory Store.
#include "hub/account_api.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "accounts/tokens.h"
#include "store/testing/fake_store.h"
#include "vault/email_index.h"
#include "vault/keys.h"
#include "vault/link.h"
#include "vault/mailer.h"
#include "vault/server.h"
#include "vault/service.h"

namespace salvus::hub {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Request = AccountApi::Request;
using Response = AccountApi::Response;

constexpr char kToken[] = "account-api-test-token-0123456789";
constexpr char kAnn[] = "ann@example.org";
constexpr char kPassword[] = "correct horse battery";

class AccountApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    char tmpl[] = "/tmp/salvus-account-api-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    keys_ = vault::VaultKeys::Generate();
    auto index = vault::EmailIndex::Open(dir_ + "/vault.sqlite", keys_);
    ASSERT_TRUE(index) << index.error();
    index_.emplace(std::move(*index));
    vault::MailerOptions mo;
    mo.mail_from = "noreply@salvus.example";
    mo.mail_dir = dir_ + "/mail";
    fs::create_directories(mo.mail_dir);
    mailer_.emplace(mo);
    service_.emplace(keys_, *index_,
                     vault::ServiceOptions{"noreply@salvus.example", "http://127.0.0.1:1"});
    vault::ServerOptions so;
    so.listen = {"127.0.0.1", 0};
    so.token = kToken;
    server_ = std::make_unique<vault::VaultServer>(io_, so, *service_, *mailer_);
    asio::co_spawn(io_, server_->Run(), asio::detached);
    RunUntil([&] { return server_->port() != 0; });
    link_ = MakeLink(server_->port());
    accounts::PasswordPoolOptions po;
    po.params = *accounts::PasswordParamsNamed("min");
    accounts::SignInLimiterOptions lo;
    lo.free_failures = 3;
    lo.base = 60s;  // long enough that a test never waits one out
    shared_ = std::make_unique<AccountShared>(po, lo);
    api_ = std::make_unique<AccountApi>(&store_, link_.get(), shared_.get(), AccountApiOptions{});
  }

  void TearDown() override {
    api_.reset();
    shared_->pool.Stop();
    link_.reset();
    server_->Stop();
    io_.restart();
    io_.run_for(100ms);
    server_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<vault::VaultLink> MakeLink(uint16_t port) {
    vault::VaultLinkOptions vo;
    vo.address = {"127.0.0.1", port};
    vo.token = kToken;
    vo.tls = false;
    vo.timeout = 5s;
    return std::make_unique<vault::VaultLink>(io_.get_executor(), vo);
  }

  void RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_one_for(20ms);
    }
    ASSERT_TRUE(done()) << "timed out";
  }

  std::string Seal(const std::string& email) {
    std::string out(crypto_box_SEALBYTES + email.size(), '\0');
    crypto_box_seal(reinterpret_cast<unsigned char*>(out.data()),
                    reinterpret_cast<const unsigned char*>(email.data()), email.size(),
                    keys_.public_key.data());
    std::string b64(sodium_base64_ENCODED_LEN(out.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(out.data()),
                      out.size(), sodium_base64_VARIANT_ORIGINAL);
    b64.pop_back();
    return b64;
  }

  Response Call(http::verb verb, const std::string& what, const std::string& body = "",
                const std::string& cookie = "", bool origin_ok = true,
                const std::string& client = "10.0.0.1") {
    Request req{verb, "/api/account/" + what, 11};
    req.body() = body;
    if (!cookie.empty()) req.set(http::field::cookie, cookie);
    req.prepare_payload();
    std::optional<Response> res;
    asio::co_spawn(io_, api_->Handle(req, client, origin_ok),
                   [&](std::exception_ptr e, Response r) {
                     if (e) std::rethrow_exception(e);
                     res = std::move(r);
                   });
    RunUntil([&] { return res.has_value(); });
    return res ? std::move(*res) : Response{};
  }
  Response Post(const std::string& what, const std::string& body = "{}",
                const std::string& cookie = "", const std::string& client = "10.0.0.1") {
    return Call(http::verb::post, what, body, cookie, true, client);
  }
  std::string Creds(const std::string& email, const std::string& password) {
    return R"({"email":")" + Seal(email) + R"(","password":")" + password + "\"}";
  }
  // "salvus_session=TOKEN" from a response's Set-Cookie.
  static std::string CookieOf(const Response& r) {
    std::string c(r[http::field::set_cookie]);
    return c.substr(0, c.find(';'));
  }

  std::string dir_;
  asio::io_context io_;
  vault::VaultKeys keys_;
  std::optional<vault::EmailIndex> index_;
  std::optional<vault::Mailer> mailer_;
  std::optional<vault::VaultService> service_;
  std::unique_ptr<vault::VaultServer> server_;
  std::unique_ptr<vault::VaultLink> link_;
  store::FakeStore store_{io_.get_executor()};
  std::unique_ptr<AccountShared> shared_;
  std::unique_ptr<AccountApi> api_;
};

TEST_F(AccountApiTest, SignUpSignOutSignIn) {
  auto key = Call(http::verb::get, "vault-key");
  ASSERT_EQ(key.result(), http::status::ok) << key.body();
  EXPECT_NE(key.body().find("\"key\":\""), std::string::npos);

  auto up = Post("signup", Creds(kAnn, kPassword));
  ASSERT_EQ(up.result(), http::status::ok) << up.body();
  const std::string cookie = CookieOf(up);
  EXPECT_TRUE(cookie.starts_with("salvus_session=")) << cookie;
  const std::string set_cookie(up[http::field::set_cookie]);
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("SameSite=Lax"), std::string::npos);
  EXPECT_EQ(set_cookie.find("Secure"), std::string::npos);  // not https
  {
    std::lock_guard lock(store_.mu);
    ASSERT_EQ(store_.accounts.size(), 1u);
    const auto& a = store_.accounts.begin()->second;
    EXPECT_TRUE(accounts::IsAccountId(a.id));
    EXPECT_TRUE(a.password_hash.starts_with("$argon2id$"));
    // Only the token's hash is kept.
    ASSERT_EQ(store_.browser_sessions.size(), 1u);
    const std::string token = cookie.substr(cookie.find('=') + 1);
    EXPECT_TRUE(store_.browser_sessions.contains(accounts::TokenHash(token)));
  }
  auto me = Call(http::verb::get, "me", "", cookie);
  EXPECT_NE(me.body().find("\"signedIn\":true"), std::string::npos) << me.body();

  // The same address again: refused, and no second account is left behind.
  auto again = Post("signup", Creds(kAnn, "another password"));
  EXPECT_EQ(again.result(), http::status::conflict) << again.body();
  EXPECT_EQ(store_.accounts.size(), 1u);

  auto out = Post("signout", "{}", cookie);
  EXPECT_EQ(out.result(), http::status::ok);
  me = Call(http::verb::get, "me", "", cookie);
  EXPECT_EQ(me.body(), "{\"signedIn\":false}");

  auto in = Post("signin", Creds(kAnn, kPassword));
  ASSERT_EQ(in.result(), http::status::ok) << in.body();
  me = Call(http::verb::get, "me", "", CookieOf(in));
  EXPECT_NE(me.body().find("\"signedIn\":true"), std::string::npos);
}

TEST_F(AccountApiTest, WrongPasswordAndNoAccountLookAlikeThenBackOff) {
  ASSERT_EQ(Post("signup", Creds(kAnn, kPassword)).result(), http::status::ok);
  auto wrong = Post("signin", Creds(kAnn, "not the password"), "", "10.0.0.2");
  auto nobody = Post("signin", Creds("nobody@example.org", kPassword), "", "10.0.0.3");
  EXPECT_EQ(wrong.result(), http::status::unauthorized);
  EXPECT_EQ(nobody.result(), http::status::unauthorized);
  EXPECT_EQ(wrong.body(), nobody.body());

  // 3 free failures, then each try must wait: for the address...
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Post("signin", Creds(kAnn, "guess"), "", "10.0.0.2").result(),
              http::status::unauthorized);
  }
  auto limited = Post("signin", Creds(kAnn, kPassword), "", "10.0.0.2");
  EXPECT_EQ(limited.result(), http::status::too_many_requests) << limited.body();
  EXPECT_FALSE(limited[http::field::retry_after].empty());
  // ... and for the account, from any address, even with its password.
  auto account_limited = Post("signin", Creds(kAnn, kPassword), "", "10.0.0.5");
  EXPECT_EQ(account_limited.result(), http::status::too_many_requests) << account_limited.body();
  // Others are not.
  EXPECT_EQ(Post("signup", Creds("bob@example.org", kPassword), "", "10.0.0.6").result(),
            http::status::ok);
}

TEST_F(AccountApiTest, ResetByMail) {
  auto up = Post("signup", Creds(kAnn, kPassword));
  ASSERT_EQ(up.result(), http::status::ok);
  auto known = Post("reset-request", R"({"email":")" + Seal(kAnn) + "\"}");
  auto unknown = Post("reset-request", R"({"email":")" + Seal("nobody@example.org") + "\"}");
  EXPECT_EQ(known.result(), http::status::ok);
  EXPECT_EQ(known.body(), unknown.body());

  std::string token;
  RunUntil([&] {
    for (auto& f : fs::directory_iterator(dir_ + "/mail")) {
      std::ifstream in(f.path());
      std::stringstream ss;
      ss << in.rdbuf();
      std::smatch m;
      const std::string text = ss.str();
      if (std::regex_search(text, m, std::regex("#reset=([0-9a-f]{64})"))) token = m[1];
    }
    return !token.empty();
  });
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ + "/mail"), fs::directory_iterator()), 1);

  auto reset = Post("reset", R"({"token":")" + token + R"(","password":"a new password"})");
  ASSERT_EQ(reset.result(), http::status::ok) << reset.body();
  // The old session is gone; the old password too; the token is spent.
  EXPECT_EQ(Call(http::verb::get, "me", "", CookieOf(up)).body(), "{\"signedIn\":false}");
  EXPECT_EQ(Post("signin", Creds(kAnn, kPassword), "", "10.0.0.7").result(),
            http::status::unauthorized);
  EXPECT_EQ(Post("signin", Creds(kAnn, "a new password"), "", "10.0.0.8").result(),
            http::status::ok);
  EXPECT_EQ(Post("reset", R"({"token":")" + token + R"(","password":"yet another one"})").result(),
            http::status::bad_request);
}

TEST_F(AccountApiTest, SignOutEverywhere) {
  auto a = Post("signup", Creds(kAnn, kPassword));
  auto b = Post("signin", Creds(kAnn, kPassword));
  ASSERT_EQ(b.result(), http::status::ok);
  auto all = Post("signout-everywhere", "{}", CookieOf(a));
  ASSERT_EQ(all.result(), http::status::ok) << all.body();
  EXPECT_NE(all.body().find("\"revoked\":2"), std::string::npos) << all.body();
  EXPECT_EQ(Call(http::verb::get, "me", "", CookieOf(b)).body(), "{\"signedIn\":false}");
  EXPECT_EQ(Post("signout-everywhere", "{}", CookieOf(b)).result(), http::status::unauthorized);
}

TEST_F(AccountApiTest, HostileRequests) {
  // Not our origin, too large, not JSON, wrong types, wrong methods, junk.
  EXPECT_EQ(Call(http::verb::post, "signin", Creds(kAnn, kPassword), "", false).result(),
            http::status::forbidden);
  EXPECT_EQ(Post("signin", std::string(9000, ' ')).result(), http::status::payload_too_large);
  EXPECT_EQ(Post("signin", "not json").result(), http::status::bad_request);
  EXPECT_EQ(Post("signin", R"({"email": 5})").result(), http::status::bad_request);
  EXPECT_EQ(Post("signin", R"({"email": "!!!"})").result(), http::status::bad_request);
  EXPECT_EQ(Post("signin", R"({"email": ")" + std::string(1000, 'A') + "\"}").result(),
            http::status::bad_request);
  EXPECT_EQ(Post("signin", R"({"email": "AAAA", "password": "12345678"})").result(),
            http::status::bad_request);  // not a sealed box: the vault says so
  EXPECT_EQ(Post("signup", Creds(kAnn, "short")).result(), http::status::bad_request);
  EXPECT_EQ(Post("signup", Creds(kAnn, std::string(2000, 'x'))).result(),
            http::status::bad_request);
  EXPECT_EQ(Call(http::verb::get, "signin").result(), http::status::method_not_allowed);
  EXPECT_EQ(Call(http::verb::post, "me").result(), http::status::method_not_allowed);
  EXPECT_EQ(Post("nonsense").result(), http::status::not_found);
  EXPECT_EQ(Post("reset", R"({"token":"../../etc","password":"a new password"})").result(),
            http::status::bad_request);
  // Forged cookies: not signed in.
  for (std::string c : {"salvus_session=" + std::string(64, 'a'), std::string("salvus_session=x"),
                        std::string("salvus_session=") + std::string(5000, 'a')}) {
    EXPECT_EQ(Call(http::verb::get, "me", "", c).body(), "{\"signedIn\":false}");
  }
  EXPECT_TRUE(store_.accounts.empty());
}

TEST_F(AccountApiTest, VaultDown) {
  ASSERT_EQ(Post("signup", Creds(kAnn, kPassword)).result(), http::status::ok);
  auto signed_in = Post("signin", Creds(kAnn, kPassword));
  server_->Stop();
  link_->Close();
  io_.restart();
  io_.run_for(100ms);
  for (const char* what : {"signin", "signup"}) {
    auto r = Post(what, Creds(kAnn, kPassword));
    EXPECT_EQ(r.result(), http::status::service_unavailable) << what;
    EXPECT_NE(r.body().find("accounts are unavailable"), std::string::npos) << r.body();
  }
  EXPECT_EQ(Call(http::verb::get, "vault-key").result(), http::status::service_unavailable);
  // A signed-in browser stays signed in.
  EXPECT_NE(Call(http::verb::get, "me", "", CookieOf(signed_in)).body().find("\"signedIn\":true"),
            std::string::npos);
  EXPECT_EQ(store_.accounts.size(), 1u);
}

// Over https the cookie is Secure; a sign-out clears it.
TEST_F(AccountApiTest, SecureCookieOverHttps) {
  AccountApiOptions o;
  o.secure_cookie = true;
  api_ = std::make_unique<AccountApi>(&store_, link_.get(), shared_.get(), o);
  auto up = Post("signup", Creds(kAnn, kPassword));
  ASSERT_EQ(up.result(), http::status::ok) << up.body();
  EXPECT_TRUE(std::string(up[http::field::set_cookie]).ends_with("; Secure"));
  auto out = Post("signout", "{}", CookieOf(up));
  const std::string cleared(out[http::field::set_cookie]);
  EXPECT_NE(cleared.find("Max-Age=0"), std::string::npos) << cleared;
  EXPECT_NE(cleared.find("Secure"), std::string::npos) << cleared;
}

TEST(AccountApiNoVault, Unavailable) {
  asio::io_context io;
  AccountApi api(nullptr, nullptr, nullptr, {});
  Request req{http::verb::post, "/api/account/signin", 11};
  req.body() = R"({"email":"AAAA","password":"12345678"})";
  std::optional<Response> res;
  asio::co_spawn(io, api.Handle(req, "", true), [&](std::exception_ptr, Response r) { res = r; });
  io.run_for(5s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), http::status::service_unavailable);
}

}  // namespace
}  // namespace salvus::hub
