// The Store's account operations (operations.h): accounts, browser
// sessions, password reset tokens.
#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "store/operations.h"

namespace salvus::store::internal {

namespace asio = boost::asio;

namespace {

// Ids and hashes are fixed shapes: anything else is a caller's bug, refused
// before it reaches SQL.
bool IsLowerHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void CheckAccountId(const std::string& id) {
  if (!IsLowerHex(id, 32)) throw DbError("an account id is 32 lowercase hex digits");
}

void CheckTokenHash(const std::string& h) {
  if (!IsLowerHex(h, 64)) throw DbError("a token hash is 64 lowercase hex digits (SHA-256)");
}

}  // namespace

asio::awaitable<void> CreateAccountOp(Db& db, Account a) {
  CheckAccountId(a.id);
  Rows r = co_await db.Query(
      "INSERT INTO accounts (id, password_hash, created_ms, is_operator) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT DO NOTHING",
      Params(Text(a.id), Text(a.password_hash), Int(a.created_ms ? a.created_ms : core::NowMs()),
             Int(a.is_operator ? 1 : 0)));
  if (r.affected != 1) throw DbError("account id already taken");
}

asio::awaitable<std::optional<Account>> GetAccountOp(Db& db, std::string id) {
  Rows r = co_await db.Query(
      "SELECT id, password_hash, created_ms, is_operator FROM accounts WHERE id = $1",
      Params(Text(id)));
  if (r.empty()) co_return std::nullopt;
  co_return Account{r.Text(0, 0), r.Text(0, 1), r.Int(0, 2), r.Int(0, 3) != 0};
}

asio::awaitable<bool> SetPasswordHashOp(Db& db, std::string id, std::string hash) {
  Rows r = co_await db.Query("UPDATE accounts SET password_hash = $2 WHERE id = $1",
                             Params(Text(id), Text(hash)));
  co_return r.affected > 0;
}

asio::awaitable<bool> SetOperatorOp(Db& db, std::string id, bool is_operator) {
  Rows r = co_await db.Query("UPDATE accounts SET is_operator = $2 WHERE id = $1",
                             Params(Text(id), Int(is_operator ? 1 : 0)));
  co_return r.affected > 0;
}

asio::awaitable<bool> DeleteAccountOp(Db& db, std::string id) {
  co_await db.Begin();
  co_await db.Query("DELETE FROM browser_sessions WHERE account = $1", Params(Text(id)));
  co_await db.Query("DELETE FROM reset_tokens WHERE account = $1", Params(Text(id)));
  Rows r = co_await db.Query("DELETE FROM accounts WHERE id = $1", Params(Text(id)));
  co_await db.Commit();
  co_return r.affected > 0;
}

asio::awaitable<void> CreateBrowserSessionOp(Db& db, std::string token_hash, std::string account) {
  CheckTokenHash(token_hash);
  CheckAccountId(account);
  Rows r = co_await db.Query(
      "INSERT INTO browser_sessions (token_hash, account, created_ms, revoked) "
      "VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING",
      Params(Text(token_hash), Text(account), Int(core::NowMs())));
  if (r.affected != 1) throw DbError("browser session token already taken");
}

asio::awaitable<std::optional<BrowserSession>> GetBrowserSessionOp(Db& db, std::string token_hash) {
  Rows r = co_await db.Query(
      "SELECT token_hash, account, created_ms, revoked FROM browser_sessions "
      "WHERE token_hash = $1",
      Params(Text(token_hash)));
  if (r.empty()) co_return std::nullopt;
  co_return BrowserSession{r.Text(0, 0), r.Text(0, 1), r.Int(0, 2), r.Int(0, 3) != 0};
}

asio::awaitable<bool> RevokeBrowserSessionOp(Db& db, std::string token_hash) {
  Rows r = co_await db.Query(
      "UPDATE browser_sessions SET revoked = 1 WHERE token_hash = $1 AND revoked = 0",
      Params(Text(token_hash)));
  co_return r.affected > 0;
}

asio::awaitable<int64_t> RevokeAccountSessionsOp(Db& db, std::string account) {
  Rows r = co_await db.Query(
      "UPDATE browser_sessions SET revoked = 1 WHERE account = $1 AND revoked = 0",
      Params(Text(account)));
  co_return r.affected;
}

asio::awaitable<void> CreateResetTokenOp(Db& db, std::string token_hash, std::string account,
                                         int64_t expires_ms) {
  CheckTokenHash(token_hash);
  CheckAccountId(account);
  co_await db.Query("DELETE FROM reset_tokens WHERE expires_ms < $1", Params(Int(core::NowMs())));
  Rows r = co_await db.Query(
      "INSERT INTO reset_tokens (token_hash, account, expires_ms, used) VALUES ($1, $2, $3, 0) "
      "ON CONFLICT DO NOTHING",
      Params(Text(token_hash), Text(account), Int(expires_ms)));
  if (r.affected != 1) throw DbError("reset token already taken");
}

asio::awaitable<std::optional<std::string>> UseResetTokenOp(Db& db, std::string token_hash,
                                                            int64_t now_ms) {
  // One statement: two uses racing each other cannot both see it unused.
  Rows r = co_await db.Query(
      "UPDATE reset_tokens SET used = 1 WHERE token_hash = $1 AND used = 0 AND expires_ms > $2 "
      "RETURNING account",
      Params(Text(token_hash), Int(now_ms)));
  if (r.empty()) co_return std::nullopt;
  co_return r.Text(0, 0);
}

}  // namespace salvus::store::internal
