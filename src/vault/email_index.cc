#include "vault/email_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "vault/keys_file.h"

namespace salvus::vault {

namespace {

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

void BindBlob(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
std::string Column(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  return p == nullptr ? std::string()
                      : std::string(static_cast<const char*>(p), sqlite3_column_bytes(s, i));
}

constexpr std::string_view kKeyCheck = "salvus vault: index key check";

}  // namespace

EmailIndex::~EmailIndex() {
  if (db_ != nullptr) sqlite3_close(db_);
}

std::string EmailIndex::Error() const { return sqlite3_errmsg(db_); }

std::expected<void, std::string> EmailIndex::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string e = err ? err : Error();
    sqlite3_free(err);
    return std::unexpected(e);
  }
  return {};
}

std::expected<EmailIndex, std::string> EmailIndex::Open(const std::string& path,
                                                        const VaultKeys& keys) {
  // Made (or checked) here first, so that SQLite never creates it with the
  // umask's mode.
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return std::unexpected("cannot open " + path + ": " + std::strerror(errno));
  auto priv = CheckPrivateFile(fd, path);
  close(fd);
  if (!priv) return std::unexpected("refusing the database: " + priv.error());
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  EmailIndex idx(raw);
  if (rc != SQLITE_OK) return std::unexpected("cannot open " + path + ": " + idx.Error());
  sqlite3_busy_timeout(raw, 5000);
  // secure_delete: a deleted row's bytes are overwritten, not left in free pages.
  auto ok = idx.Exec(
      "PRAGMA secure_delete = ON;"
      "PRAGMA journal_mode = DELETE;"
      "PRAGMA synchronous = FULL;"
      "CREATE TABLE IF NOT EXISTS emails ("
      "  idx BLOB PRIMARY KEY,"  // HMAC-SHA256(k_idx, normalized address)
      "  account TEXT NOT NULL UNIQUE,"
      "  sealed BLOB NOT NULL,"     // crypto_box_seal(address, vault public key)
      "  created INTEGER NOT NULL"  // seconds since the epoch
      ") WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);");
  if (!ok) return std::unexpected("cannot set up " + path + ": " + ok.error());
  // Which keys made this file.
  const std::string check = keys.IndexOf(kKeyCheck);
  Stmt get;
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(raw, "SELECT value FROM meta WHERE name = 'key_check'", -1, &s, nullptr);
  get.reset(s);
  const int step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    if (Column(s, 0) != check) {
      return std::unexpected(path +
                             " was made with other keys than this keys file's (its rows would "
                             "never be found); use the keys file it was made with");
    }
  } else if (step == SQLITE_DONE) {
    Stmt put;
    sqlite3_prepare_v2(raw, "INSERT INTO meta (name, value) VALUES ('key_check', ?)", -1, &s,
                       nullptr);
    put.reset(s);
    BindBlob(s, 1, check);
    if (sqlite3_step(s) != SQLITE_DONE)
      return std::unexpected("cannot write " + path + ": " + idx.Error());
  } else {
    return std::unexpected("cannot read " + path + ": " + idx.Error());
  }
  return idx;
}

std::expected<EmailIndex::Registered, std::string> EmailIndex::Register(const std::string& index,
                                                                        const std::string& account,
                                                                        const std::string& sealed,
                                                                        int64_t now_s) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "INSERT INTO emails (idx, account, sealed, created) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT DO NOTHING",
                         -1, &s, nullptr) != SQLITE_OK) {
    return std::unexpected(Error());
  }
  Stmt st(s);
  BindBlob(s, 1, index);
  BindText(s, 2, account);
  BindBlob(s, 3, sealed);
  sqlite3_bind_int64(s, 4, now_s);
  if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(Error());
  if (sqlite3_changes(db_) == 1) return Registered::kCreated;
  // Which constraint held it back.
  auto existing = Lookup(index);
  if (!existing) return std::unexpected(existing.error());
  return *existing ? Registered::kEmailTaken : Registered::kAccountTaken;
}

std::expected<std::optional<std::string>, std::string> EmailIndex::Lookup(
    const std::string& index) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT account FROM emails WHERE idx = ?", -1, &s, nullptr) !=
      SQLITE_OK) {
    return std::unexpected(Error());
  }
  Stmt st(s);
  BindBlob(s, 1, index);
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return Column(s, 0);
  if (rc == SQLITE_DONE) return std::nullopt;
  return std::unexpected(Error());
}

std::expected<std::optional<std::string>, std::string> EmailIndex::SealedEmailOf(
    const std::string& account) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT sealed FROM emails WHERE account = ?", -1, &s, nullptr) !=
      SQLITE_OK) {
    return std::unexpected(Error());
  }
  Stmt st(s);
  BindText(s, 1, account);
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return Column(s, 0);
  if (rc == SQLITE_DONE) return std::nullopt;
  return std::unexpected(Error());
}

std::expected<int64_t, std::string> EmailIndex::Count() {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM emails", -1, &s, nullptr) != SQLITE_OK) {
    return std::unexpected(Error());
  }
  Stmt st(s);
  if (sqlite3_step(s) != SQLITE_ROW) return std::unexpected(Error());
  return sqlite3_column_int64(s, 0);
}

}  // namespace salvus::vault
