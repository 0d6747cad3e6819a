#include "hub/account_api.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "accounts/tokens.h"
#include "core/clock.h"
#include "core/json.h"
#include "proto/salvus.pb.h"
#include "store/await_store.h"
#include "vault/link.h"

namespace salvus::hub {

namespace asio = boost::asio;
using accounts::PoolError;
using store::AwaitStore;

namespace {

constexpr size_t kMaxSealedEmail = 512;  // the vault's own cap (vault/service.h)
constexpr char kUnavailable[] =
    "accounts are unavailable right now (the vault cannot be reached); anonymous use goes on";
constexpr char kBusy[] = "the hub is busy checking passwords; try again in a few seconds";
constexpr char kWrong[] = "wrong e-mail address or password";
constexpr char kResetSent[] = "if an account exists for that address, a mail was sent to it";

using Request = AccountApi::Request;
using Response = AccountApi::Response;

// A JSON object of string members, written in order.
std::string JsonObject(std::initializer_list<std::pair<std::string_view, std::string_view>> kv,
                       std::string_view raw_tail = {}) {
  std::string out = "{";
  for (const auto& [k, v] : kv) {
    if (out.size() > 1) out += ",";
    core::AppendJsonString(k, &out);
    out += ":";
    core::AppendJsonString(v, &out);
  }
  if (!raw_tail.empty()) {
    if (out.size() > 1) out += ",";
    out += raw_tail;
  }
  return out + "}";
}

Response Json(const Request& req, http::status status, std::string body) {
  Response res{status, req.version()};
  res.set(http::field::server, "salvus");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response Error(const Request& req, http::status status, std::string_view text) {
  return Json(req, status, JsonObject({{"error", text}}));
}

Response Unavailable(const Request& req) {
  auto res = Error(req, http::status::service_unavailable, kUnavailable);
  res.set(http::field::retry_after, "10");
  return res;
}

Response Busy(const Request& req) {
  auto res = Error(req, http::status::service_unavailable, kBusy);
  res.set(http::field::retry_after, "2");
  return res;
}

Response TooMany(const Request& req, std::chrono::steady_clock::duration wait) {
  const auto s = std::chrono::ceil<std::chrono::seconds>(wait).count();
  auto res = Error(req, http::status::too_many_requests,
                   "too many failed attempts: wait " + std::to_string(s) + " s, then try again");
  res.set(http::field::retry_after, std::to_string(s));
  return res;
}

std::optional<std::string> FromBase64(std::string_view b64, size_t max) {
  std::string out(max, '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), b64.data(),
                        b64.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string ToBase64(std::string_view bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the NUL
  return out;
}

std::string Key(const std::string& client) { return client.empty() ? "?" : client; }

std::string_view CookieHeader(const Request& req) {
  auto c = req[http::field::cookie];
  return {c.data(), c.size()};
}

}  // namespace

// A request body: {"email": base64 sealed, "password": ..., "token": ...}.
struct AccountApi::Body {
  std::string sealed_email;
  std::string password;
  std::string token;
  std::string error;  // set when unreadable

  ~Body() { sodium_memzero(password.data(), password.size()); }

  static std::unique_ptr<Body> Parse(std::string_view json) {
    auto b = std::make_unique<Body>();
    google::protobuf::Struct s;
    if (!google::protobuf::util::JsonStringToMessage(std::string(json), &s).ok()) {
      b->error = "the request body is not a JSON object";
      return b;
    }
    for (const auto& [k, v] : s.fields()) {
      if (v.kind_case() != google::protobuf::Value::kStringValue) {
        b->error = "\"" + std::string(k.substr(0, 40)) + "\" must be a string";
        return b;
      }
      if (k == "email") {
        auto sealed = FromBase64(v.string_value(), kMaxSealedEmail);
        if (!sealed || sealed->empty()) {
          b->error = "\"email\" must be the sealed address in base64 (at most " +
                     std::to_string(kMaxSealedEmail) + " bytes)";
          return b;
        }
        b->sealed_email = std::move(*sealed);
      } else if (k == "password") {
        b->password = v.string_value();
      } else if (k == "token") {
        b->token = v.string_value();
      }
    }
    return b;
  }
};

asio::awaitable<Response> AccountApi::Handle(const Request& req, std::string client,
                                             bool origin_ok) {
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view what = target.substr(std::string_view("/api/account/").size());
  if (!origin_ok) {
    co_return Error(req, http::status::forbidden,
                    "this hub does not accept pages from " + std::string(req[http::field::origin]));
  }
  if (req.body().size() > opt_.max_body) {
    co_return Error(req, http::status::payload_too_large,
                    "request body too large (at most " + std::to_string(opt_.max_body) + ")");
  }
  const bool get = req.method() == http::verb::get;
  if (what == "me" || what == "vault-key") {
    if (!get) co_return Error(req, http::status::method_not_allowed, "use GET");
    if (what == "me") co_return co_await Me(req);
    co_return co_await VaultKey(req);
  }
  if (req.method() != http::verb::post) {
    co_return Error(req, http::status::method_not_allowed, "use POST");
  }
  if (what == "signout") co_return co_await SignOut(req, false);
  if (what == "signout-everywhere") co_return co_await SignOut(req, true);
  const bool known =
      what == "signup" || what == "signin" || what == "reset-request" || what == "reset";
  if (!known) co_return Error(req, http::status::not_found, "no such account call");
  auto body = Body::Parse(req.body());
  if (!body->error.empty()) co_return Error(req, http::status::bad_request, body->error);
  if (!store_ || !vault_ || !shared_) co_return Unavailable(req);
  if (what == "signup") co_return co_await SignUp(req, *body, client);
  if (what == "signin") co_return co_await SignIn(req, *body, client);
  if (what == "reset-request") co_return co_await ResetRequest(req, *body, client);
  co_return co_await Reset(req, *body, client);
}

asio::awaitable<Response> AccountApi::VaultKey(const Request& req) {
  if (!vault_) co_return Unavailable(req);
  if (vault_key_.empty()) {
    proto::VaultRequest r;
    r.mutable_get_public_key();
    auto reply = co_await vault_->Call(r);
    if (!reply || !reply->has_public_key() || reply->public_key().key().size() != 32) {
      spdlog::warn("accounts: the vault's public key: {}",
                   reply ? reply->error().text() : reply.error());
      co_return Unavailable(req);
    }
    vault_key_ = ToBase64(reply->public_key().key());
  }
  auto res = Json(req, http::status::ok, JsonObject({{"key", vault_key_}}));
  co_return res;
}

asio::awaitable<Response> AccountApi::SignUp(const Request& req, const Body& b,
                                             const std::string& client) {
  if (auto why = accounts::CheckPassword(b.password); !why.empty()) {
    co_return Error(req, http::status::bad_request, why);
  }
  if (b.sealed_email.empty()) co_return Error(req, http::status::bad_request, "no \"email\"");
  const auto now = std::chrono::steady_clock::now();
  if (auto wait = shared_->by_address.Wait(Key(client), now); wait.count() > 0) {
    co_return TooMany(req, wait);
  }
  auto hash = co_await shared_->pool.Hash(b.password);
  if (!hash) co_return hash.error() == PoolError::kBusy ? Busy(req) : Unavailable(req);
  // The row first, then the vault: a row the vault then refuses is removed;
  // never a vault entry for an account that does not exist.
  store::Account a{accounts::NewAccountId(), std::move(*hash), core::NowMs(), false};
  auto made = co_await AwaitStore<void>([&](auto cb) { store_->CreateAccount(a, cb); });
  if (!made) {
    spdlog::warn("accounts: sign-up: {}", made.error());
    co_return Unavailable(req);
  }
  proto::VaultRequest r;
  r.mutable_register_email()->set_sealed_email(b.sealed_email);
  r.mutable_register_email()->set_account_id(a.id);
  auto reply = co_await vault_->Call(r);
  if (!reply || !reply->has_registered() || !reply->registered().created()) {
    co_await AwaitStore<bool>([&](auto cb) { store_->DeleteAccount(a.id, cb); });
    if (!reply) {
      spdlog::warn("accounts: sign-up: the vault: {}", reply.error());
      co_return Unavailable(req);
    }
    if (reply->has_error()) co_return Error(req, http::status::bad_request, reply->error().text());
    // Counted as a failure: probing which addresses have accounts is slowed.
    shared_->by_address.Failed(Key(client), std::chrono::steady_clock::now());
    co_return Error(req, http::status::conflict,
                    "an account with this address exists: sign in, or reset its password");
  }
  spdlog::info("accounts: new account {}", a.id);
  co_return co_await StartSession(req, a.id);
}

asio::awaitable<Response> AccountApi::SignIn(const Request& req, const Body& b,
                                             const std::string& client) {
  if (b.sealed_email.empty()) co_return Error(req, http::status::bad_request, "no \"email\"");
  if (b.password.size() > accounts::kMaxPassword)
    co_return Error(req, http::status::bad_request, kWrong);
  const std::string address = Key(client);
  if (auto wait = shared_->by_address.Wait(address, std::chrono::steady_clock::now());
      wait.count() > 0) {
    co_return TooMany(req, wait);
  }
  proto::VaultRequest r;
  r.mutable_lookup()->set_sealed_email(b.sealed_email);
  auto reply = co_await vault_->Call(r);
  if (!reply) {
    spdlog::warn("accounts: sign-in: the vault: {}", reply.error());
    co_return Unavailable(req);
  }
  if (reply->has_error()) co_return Error(req, http::status::bad_request, reply->error().text());
  const bool found = reply->has_looked_up() && reply->looked_up().found();
  const std::string id = found ? reply->looked_up().account_id() : accounts::NewAccountId();
  if (found) {
    if (auto wait = shared_->by_account.Wait(id, std::chrono::steady_clock::now());
        wait.count() > 0) {
      co_return TooMany(req, wait);
    }
  }
  // The same reads and the same hashing whether the account exists or not.
  auto account = co_await AwaitStore<std::optional<store::Account>>(
      [&](auto cb) { store_->GetAccount(id, cb); });
  if (!account) {
    spdlog::warn("accounts: sign-in: {}", account.error());
    co_return Unavailable(req);
  }
  const bool exists = found && account->has_value();
  auto verdict = co_await shared_->pool.Verify(
      exists ? (*account)->password_hash : shared_->pool.dummy_hash(), b.password);
  if (!verdict) co_return verdict.error() == PoolError::kBusy ? Busy(req) : Unavailable(req);
  const auto now = std::chrono::steady_clock::now();
  if (!exists || !verdict->ok) {
    shared_->by_address.Failed(address, now);
    if (exists) shared_->by_account.Failed(id, now);
    co_return Error(req, http::status::unauthorized, kWrong);
  }
  shared_->by_address.Succeeded(address);
  shared_->by_account.Succeeded(id);
  if (verdict->needs_rehash) {
    if (auto h = co_await shared_->pool.Hash(b.password)) {
      co_await AwaitStore<bool>([&](auto cb) { store_->SetPasswordHash(id, *h, cb); });
    }
  }
  co_return co_await StartSession(req, id);
}

asio::awaitable<Response> AccountApi::StartSession(const Request& req, const std::string& account) {
  const std::string token = accounts::NewToken();
  auto made = co_await AwaitStore<void>(
      [&](auto cb) { store_->CreateBrowserSession(accounts::TokenHash(token), account, cb); });
  if (!made) {
    spdlog::warn("accounts: new session: {}", made.error());
    co_return Unavailable(req);
  }
  auto res = Json(req, http::status::ok, JsonObject({{"account", account}}, "\"signedIn\":true"));
  res.set(http::field::set_cookie,
          accounts::SessionSetCookie(token, opt_.secure_cookie, opt_.session_max_age.count()));
  co_return res;
}

asio::awaitable<std::optional<store::Account>> AccountApi::SessionAccount(const Request& req) {
  if (!store_) co_return std::nullopt;
  auto token = accounts::CookieValue(CookieHeader(req), accounts::kSessionCookie);
  if (!token || !accounts::IsToken(*token)) co_return std::nullopt;
  auto s = co_await AwaitStore<std::optional<store::BrowserSession>>(
      [&](auto cb) { store_->GetBrowserSession(accounts::TokenHash(*token), cb); });
  if (!s || !*s || (*s)->revoked) co_return std::nullopt;
  if (core::NowMs() - (*s)->created_ms > opt_.session_max_age.count() * 1000)
    co_return std::nullopt;
  auto a = co_await AwaitStore<std::optional<store::Account>>(
      [&](auto cb) { store_->GetAccount((*s)->account, cb); });
  if (!a || !*a) co_return std::nullopt;
  co_return std::move(**a);
}

asio::awaitable<Response> AccountApi::Me(const Request& req) {
  auto a = co_await SessionAccount(req);
  if (!a) co_return Json(req, http::status::ok, "{\"signedIn\":false}");
  co_return Json(req, http::status::ok,
                 JsonObject({{"account", a->id}}, std::string("\"signedIn\":true,\"operator\":") +
                                                      (a->is_operator ? "true" : "false")));
}

asio::awaitable<Response> AccountApi::SignOut(const Request& req, bool everywhere) {
  auto token = accounts::CookieValue(CookieHeader(req), accounts::kSessionCookie);
  Response res = Json(req, http::status::ok, "{\"signedIn\":false}");
  if (store_ && token && accounts::IsToken(*token)) {
    if (everywhere) {
      auto a = co_await SessionAccount(req);
      if (!a) co_return Error(req, http::status::unauthorized, "not signed in");
      auto n =
          co_await AwaitStore<int64_t>([&](auto cb) { store_->RevokeAccountSessions(a->id, cb); });
      if (!n) co_return Unavailable(req);
      res = Json(req, http::status::ok,
                 "{\"signedIn\":false,\"revoked\":" + std::to_string(*n) + "}");
    } else {
      auto done = co_await AwaitStore<bool>(
          [&](auto cb) { store_->RevokeBrowserSession(accounts::TokenHash(*token), cb); });
      if (!done) co_return Unavailable(req);
    }
  } else if (everywhere) {
    co_return Error(req, http::status::unauthorized, "not signed in");
  }
  res.set(http::field::set_cookie, accounts::ClearSessionCookie(opt_.secure_cookie));
  co_return res;
}

asio::awaitable<Response> AccountApi::ResetRequest(const Request& req, const Body& b,
                                                   const std::string& client) {
  if (b.sealed_email.empty()) co_return Error(req, http::status::bad_request, "no \"email\"");
  const auto now = std::chrono::steady_clock::now();
  if (auto wait = shared_->resets_by_address.Wait(Key(client), now); wait.count() > 0) {
    co_return TooMany(req, wait);
  }
  shared_->resets_by_address.Failed(Key(client), now);  // every request counts
  proto::VaultRequest r;
  r.mutable_lookup()->set_sealed_email(b.sealed_email);
  auto reply = co_await vault_->Call(r);
  if (!reply) {
    spdlog::warn("accounts: reset request: the vault: {}", reply.error());
    co_return Unavailable(req);
  }
  if (reply->has_error()) co_return Error(req, http::status::bad_request, reply->error().text());
  if (reply->has_looked_up() && reply->looked_up().found()) {
    // The mail goes on its own: the answer does not wait for the relay, so
    // its timing says nothing of whether the account exists.
    asio::co_spawn(co_await asio::this_coro::executor, MailReset(reply->looked_up().account_id()),
                   asio::detached);
  }
  co_return Json(req, http::status::ok, JsonObject({{"message", kResetSent}}));
}

asio::awaitable<void> AccountApi::MailReset(std::string account) {
  auto alive = alive_;
  const std::string token = accounts::NewToken();
  const int64_t expires = core::NowMs() + opt_.reset_valid_for.count() * 1000;
  auto made = co_await AwaitStore<void>(
      [&](auto cb) { store_->CreateResetToken(accounts::TokenHash(token), account, expires, cb); });
  if (!*alive) co_return;
  if (!made) {
    spdlog::warn("accounts: reset token for {}: {}", account, made.error());
    co_return;
  }
  proto::VaultRequest r;
  r.mutable_send_mail()->set_account_id(account);
  r.mutable_send_mail()->set_kind(proto::VaultSendMail::PASSWORD_RESET);
  r.mutable_send_mail()->set_token(token);
  auto reply = co_await vault_->Call(r);
  if (!*alive) co_return;
  if (!reply || !reply->has_mail_sent()) {
    spdlog::warn("accounts: reset mail for {}: {}", account,
                 reply ? reply->error().text() : reply.error());
  } else {
    spdlog::info("accounts: reset mail for {} sent", account);
  }
}

asio::awaitable<Response> AccountApi::Reset(const Request& req, const Body& b,
                                            const std::string& client) {
  const std::string address = Key(client);
  if (auto wait = shared_->by_address.Wait(address, std::chrono::steady_clock::now());
      wait.count() > 0) {
    co_return TooMany(req, wait);
  }
  if (!accounts::IsToken(b.token)) {
    shared_->by_address.Failed(address, std::chrono::steady_clock::now());
    co_return Error(req, http::status::bad_request, "this reset link is not valid");
  }
  if (auto why = accounts::CheckPassword(b.password); !why.empty()) {
    co_return Error(req, http::status::bad_request, why);
  }
  // Hash first: a busy pool must not use up the token.
  auto hash = co_await shared_->pool.Hash(b.password);
  if (!hash) co_return hash.error() == PoolError::kBusy ? Busy(req) : Unavailable(req);
  auto account = co_await AwaitStore<std::optional<std::string>>(
      [&](auto cb) { store_->UseResetToken(accounts::TokenHash(b.token), core::NowMs(), cb); });
  if (!account) co_return Unavailable(req);
  if (!*account) {
    shared_->by_address.Failed(address, std::chrono::steady_clock::now());
    co_return Error(req, http::status::bad_request,
                    "this reset link is not valid: used already, expired, or unknown");
  }
  const std::string id = **account;
  auto set = co_await AwaitStore<bool>([&](auto cb) { store_->SetPasswordHash(id, *hash, cb); });
  if (!set || !*set) co_return Unavailable(req);
  // Whoever knew the old password is signed out.
  co_await AwaitStore<int64_t>([&](auto cb) { store_->RevokeAccountSessions(id, cb); });
  shared_->by_account.Succeeded(id);
  spdlog::info("accounts: password of {} reset", id);
  co_return co_await StartSession(req, id);
}

}  // namespace salvus::hub
