#include "store/migrations.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "core/clock.h"
#include "store/db.h"

namespace salvus::store::internal {
namespace {

namespace asio = boost::asio;

// Serializes migrations across processes on PostgreSQL ("Salvus" + 1).
constexpr std::string_view kMigrationLockKey = "6008477563516206849";

const std::vector<MigrationStep> kSteps = {
    {1,
     "monitor: services, status, log",
     {
         R"(CREATE TABLE IF NOT EXISTS services (
              id {id},
              type TEXT NOT NULL,
              name TEXT NOT NULL,
              site TEXT NOT NULL,
              address TEXT NOT NULL,
              port INTEGER NOT NULL,
              username TEXT NOT NULL DEFAULT '',
              pid INTEGER NOT NULL DEFAULT 0,
              monitor_pid INTEGER NOT NULL DEFAULT 0,
              start_ms BIGINT NOT NULL DEFAULT 0,
              stop_ms BIGINT NOT NULL DEFAULT 0,
              running INTEGER NOT NULL DEFAULT 0,
              log_inode BIGINT NOT NULL DEFAULT 0,
              log_offset BIGINT NOT NULL DEFAULT 0,
              UNIQUE (type, name, site, address, port)))",
         R"(CREATE TABLE IF NOT EXISTS status (
              id {id},
              service_id BIGINT NOT NULL,
              time_ms BIGINT NOT NULL,
              load1 {real} NOT NULL,
              load5 {real} NOT NULL,
              load15 {real} NOT NULL,
              pcpu {real} NOT NULL,
              pmem {real} NOT NULL,
              cputime_s {real} NOT NULL,
              walltime_s {real} NOT NULL,
              vsize_kb BIGINT NOT NULL,
              rss_kb BIGINT NOT NULL,
              extra TEXT NOT NULL))",
         "CREATE INDEX IF NOT EXISTS status_by_service ON status (service_id, id)",
         R"(CREATE TABLE IF NOT EXISTS log (
              id {id},
              service_id BIGINT NOT NULL,
              time_ms BIGINT NOT NULL,
              text TEXT NOT NULL))",
         "CREATE INDEX IF NOT EXISTS log_by_service ON log (service_id, id)",
     }},
    {2,
     "permalinks and blobs",
     {
         R"(CREATE TABLE IF NOT EXISTS permalinks (
              id TEXT PRIMARY KEY,
              content_hash TEXT NOT NULL,
              code TEXT NOT NULL,
              language TEXT NOT NULL,
              interact_state TEXT NOT NULL,
              created_ms BIGINT NOT NULL))",
         // The same (code, language, state) reuses its permalink.
         "CREATE UNIQUE INDEX IF NOT EXISTS permalinks_by_content ON permalinks (content_hash)",
         R"(CREATE TABLE IF NOT EXISTS blobs (
              sha1 TEXT PRIMARY KEY,
              mime TEXT NOT NULL,
              data {bytes} NOT NULL,
              created_ms BIGINT NOT NULL))",
     }},
    {3,
     "hubs, browsers, sessions",
     {
         R"(CREATE TABLE IF NOT EXISTS hubs (
              name TEXT PRIMARY KEY,
              address TEXT NOT NULL,
              port INTEGER NOT NULL,
              updated_ms BIGINT NOT NULL))",
         R"(CREATE TABLE IF NOT EXISTS browsers (
              browser TEXT PRIMARY KEY,
              hub TEXT NOT NULL,
              updated_ms BIGINT NOT NULL))",
         R"(CREATE TABLE IF NOT EXISTS sessions (
              session TEXT PRIMARY KEY,
              hub TEXT NOT NULL,
              compute TEXT NOT NULL,
              started_ms BIGINT NOT NULL))",
     }},
    {4,
     "blob references and expiry",
     {
         // Who keeps a blob from expiring: "permalink:<id>" (a worksheet
         // would add "worksheet:<id>").
         R"(CREATE TABLE IF NOT EXISTS blob_refs (
              sha1 TEXT NOT NULL,
              owner TEXT NOT NULL,
              PRIMARY KEY (sha1, owner)))",
         // blobs.created_ms is when the blob was last put.
         "CREATE INDEX IF NOT EXISTS blobs_by_age ON blobs (created_ms)",
     }},
    {5,
     "accounts, browser sessions, reset tokens",
     {
         // Nothing here is derived from an e-mail address: ids are random,
         // the vault alone maps addresses to them.
         R"(CREATE TABLE IF NOT EXISTS accounts (
              id TEXT PRIMARY KEY,
              password_hash TEXT NOT NULL,
              created_ms BIGINT NOT NULL,
              is_operator INTEGER NOT NULL DEFAULT 0))",
         // Keyed by the SHA-256 of the cookie's token, never the token.
         R"(CREATE TABLE IF NOT EXISTS browser_sessions (
              token_hash TEXT PRIMARY KEY,
              account TEXT NOT NULL,
              created_ms BIGINT NOT NULL,
              revoked INTEGER NOT NULL DEFAULT 0))",
         "CREATE INDEX IF NOT EXISTS browser_sessions_by_account ON browser_sessions (account)",
         R"(CREATE TABLE IF NOT EXISTS reset_tokens (
              token_hash TEXT PRIMARY KEY,
              account TEXT NOT NULL,
              expires_ms BIGINT NOT NULL,
              used INTEGER NOT NULL DEFAULT 0))",
         "CREATE INDEX IF NOT EXISTS reset_tokens_by_expiry ON reset_tokens (expires_ms)",
     }},
};

}  // namespace

const std::vector<MigrationStep>& MigrationSteps() { return kSteps; }

int LatestSchemaVersion() { return kSteps.back().version; }

std::string ForBackend(std::string_view statement, std::string_view backend) {
  const bool pg = backend == "postgresql";
  struct Sub {
    std::string_view from, sqlite, postgres;
  };
  static constexpr Sub kSubs[] = {
      {"{id}", "INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"},
      {"{real}", "REAL", "DOUBLE PRECISION"},
      {"{bytes}", "BLOB", "BYTEA"},
  };
  std::string out(statement);
  for (const Sub& sub : kSubs) {
    for (size_t at = out.find(sub.from); at != std::string::npos; at = out.find(sub.from, at)) {
      const std::string_view to = pg ? sub.postgres : sub.sqlite;
      out.replace(at, sub.from.size(), to);
      at += to.size();
    }
  }
  return out;
}

asio::awaitable<int> Migrate(Db& db) {
  const std::string backend = db.backend();
  co_await db.Begin();
  if (backend == "postgresql") {
    // Held until COMMIT: a second process migrating now waits here, then
    // finds the work done.
    co_await db.Query("SELECT pg_advisory_xact_lock(" + std::string(kMigrationLockKey) + ")", {});
  }
  co_await db.Query(
      "CREATE TABLE IF NOT EXISTS schema_version ("
      "version INTEGER PRIMARY KEY, what TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
      {});
  Rows r = co_await db.Query("SELECT COALESCE(MAX(version), 0) FROM schema_version", {});
  int current = static_cast<int>(r.Int(0, 0));
  for (const MigrationStep& step : kSteps) {
    if (step.version <= current) continue;
    for (std::string_view statement : step.statements) {
      co_await db.Query(ForBackend(statement, backend), {});
    }
    co_await db.Query("INSERT INTO schema_version (version, what, applied_ms) VALUES ($1, $2, $3)",
                      Params(Int(step.version), Text(step.what), Int(core::NowMs())));
    spdlog::info("store: migrated {} schema to version {} ({})", backend, step.version, step.what);
    current = step.version;
  }
  co_await db.Commit();
  if (current > LatestSchemaVersion()) {
    spdlog::warn("store: schema version {} is newer than this program's ({})", current,
                 LatestSchemaVersion());
  }
  co_return current;
}

}  // namespace salvus::store::internal
