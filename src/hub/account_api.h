// The hub's account endpoints (issue 15), JSON over HTTP under
// /api/account/. The hub never sees an e-mail address: the page seals it
// to the vault's public key (crypto_box_seal) and the hub relays the blob.
//
//   GET  vault-key            {"key": base64}: what the page seals to
//   POST signup               {"email": sealed, "password"} -> cookie
//   POST signin               {"email": sealed, "password"} -> cookie
//   POST signout              revokes this browser's session
//   POST signout-everywhere   revokes every session of the account
//   POST reset-request        {"email": sealed}: always the same answer
//   POST reset                {"token", "password"} -> cookie
//   GET  me                   {"signedIn": ..., "account", "operator"}
//
// Sign-in answers "no such account" and "wrong password" alike, after the
// same work (a verification against a dummy hash), and backs off
// exponentially per account and per client address. Hashing runs on the
// PasswordPool, never on the event loop; a full pool answers 503 at once.
// Without the vault (not configured, or unreachable) these answer 503
// "accounts are unavailable"; anonymous use is untouched.
//
// Thread-safety: one AccountApi per shard, on its event loop; the pool and
// the limiters (AccountShared) are shared by the shards.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "accounts/password_pool.h"
#include "accounts/sign_in_limiter.h"
#include "store/store.h"

namespace salvus::vault {
class VaultLink;
}

namespace salvus::hub {

namespace http = boost::beast::http;

// What the shards of a hub share for accounts (owned by the Hub).
struct AccountShared {
  explicit AccountShared(accounts::PasswordPoolOptions o,
                         accounts::SignInLimiterOptions limits = {})
      : pool(o), by_account(limits), by_address(limits), resets_by_address(limits) {}
  accounts::PasswordPool pool;
  accounts::SignInLimiter by_account;         // failed sign-ins per account id
  accounts::SignInLimiter by_address;         // failed sign-ins (and bad reset tokens) per address
  accounts::SignInLimiter resets_by_address;  // reset requests per address
};

struct AccountApiOptions {
  bool secure_cookie = false;  // Secure: the site is https
  std::chrono::seconds session_max_age{std::chrono::days(30)};
  std::chrono::seconds reset_valid_for{std::chrono::hours(1)};
  size_t max_body = 8 << 10;  // a larger request body is refused (413)
};

class AccountApi {
 public:
  using Request = http::request<http::string_body>;
  using Response = http::response<http::string_body>;

  // `store`, `vault`, `shared`: null when not configured (then 503).
  AccountApi(store::Store* store, vault::VaultLink* vault, AccountShared* shared,
             AccountApiOptions o)
      : store_(store), vault_(vault), shared_(shared), opt_(o) {}

  static bool Owns(std::string_view target) { return target.starts_with("/api/account/"); }

  // `client`: the client's address (for the back-off; "" unknown).
  // `origin_ok`: the request's Origin is the hub's own (or absent).
  boost::asio::awaitable<Response> Handle(const Request& req, std::string client, bool origin_ok);

 private:
  struct Body;
  boost::asio::awaitable<Response> VaultKey(const Request& req);
  boost::asio::awaitable<Response> SignUp(const Request& req, const Body& b,
                                          const std::string& client);
  boost::asio::awaitable<Response> SignIn(const Request& req, const Body& b,
                                          const std::string& client);
  boost::asio::awaitable<Response> SignOut(const Request& req, bool everywhere);
  boost::asio::awaitable<Response> ResetRequest(const Request& req, const Body& b,
                                                const std::string& client);
  boost::asio::awaitable<Response> Reset(const Request& req, const Body& b,
                                         const std::string& client);
  boost::asio::awaitable<Response> Me(const Request& req);
  // The signed-in account of `req`'s cookie, if its session is valid.
  boost::asio::awaitable<std::optional<store::Account>> SessionAccount(const Request& req);
  // A new session for `account`: the response with its cookie.
  boost::asio::awaitable<Response> StartSession(const Request& req, const std::string& account);
  // Mails a reset link to `account` (detached from the request).
  boost::asio::awaitable<void> MailReset(std::string account);

  store::Store* store_;
  vault::VaultLink* vault_;
  AccountShared* shared_;
  AccountApiOptions opt_;
  std::string vault_key_;  // base64, once the vault said it
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace salvus::hub
