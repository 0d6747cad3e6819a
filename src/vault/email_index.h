// The vault's database (its own SQLite file): one row per registered
// address, keyed by HMAC-SHA256(k_idx, normalized address), holding the
// account id and the address sealed to the vault's own public key. Nothing
// in the file is an address in clear, nor a plain hash of one.
//
// The file remembers which index key made it (a MAC of a fixed string under
// k_idx): opened with other keys, every lookup would miss silently, so Open
// refuses instead.
//
// Thread-safety: none; the vault uses it from its event loop alone (each
// call is one indexed statement on a small file).
#pragma once

#include <sqlite3.h>

#include <expected>
#include <optional>
#include <string>

#include "vault/keys.h"

namespace salvus::vault {

class EmailIndex {
 public:
  // Opens or creates the file (0600; an existing one must be ours alone).
  static std::expected<EmailIndex, std::string> Open(const std::string& path,
                                                     const VaultKeys& keys);
  EmailIndex(EmailIndex&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  EmailIndex& operator=(EmailIndex&&) = delete;
  ~EmailIndex();

  enum class Registered { kCreated, kEmailTaken, kAccountTaken };
  // `index` = keys.IndexOf(address), `sealed` = keys.SealToSelf(address).
  std::expected<Registered, std::string> Register(const std::string& index,
                                                  const std::string& account,
                                                  const std::string& sealed, int64_t now_s);
  // The account of an address's index, if any.
  std::expected<std::optional<std::string>, std::string> Lookup(const std::string& index);
  // The sealed address of an account, if any.
  std::expected<std::optional<std::string>, std::string> SealedEmailOf(const std::string& account);
  std::expected<int64_t, std::string> Count();

 private:
  explicit EmailIndex(sqlite3* db) : db_(db) {}
  std::expected<void, std::string> Exec(const char* sql);
  std::string Error() const;

  sqlite3* db_;
};

}  // namespace salvus::vault
