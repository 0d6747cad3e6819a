// Every Store operation, written once for both backends as a coroutine
// over a Db (db.h): the SQL and the rows it reads. StoreImpl (store_impl.h)
// queues them and delivers their results. Each throws DbError on a
// database error. Coroutines take their arguments by value: they live in
// the frame.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/db.h"
#include "store/ids.h"
#include "store/store.h"

namespace salvus::store::internal {

boost::asio::awaitable<std::string> CreatePermalinkOp(Db& db, std::string code,
                                                      std::string language, std::string state,
                                                      IdGenerator gen);
boost::asio::awaitable<std::optional<Permalink>> GetPermalinkOp(Db& db, std::string id);
// A blob put again has its age reset only when it is older than
// `refresh_after_ms`: a plot produced over and over is not rewritten each time.
boost::asio::awaitable<void> PutBlobOp(Db& db, Blob blob, int64_t refresh_after_ms);
boost::asio::awaitable<std::optional<Blob>> GetBlobOp(Db& db, std::string sha1);
boost::asio::awaitable<int64_t> ExpireBlobsOp(Db& db, int64_t put_before_ms);
boost::asio::awaitable<int64_t> RegisterServiceOp(Db& db, Service s);
boost::asio::awaitable<void> MarkServiceStoppedOp(Db& db, int64_t id, int64_t stop_ms);
boost::asio::awaitable<void> AddStatusOp(Db& db, StatusRow s);
boost::asio::awaitable<void> AddLogLinesOp(Db& db, int64_t service_id, std::vector<LogLine> lines,
                                           LogCursor cursor);
boost::asio::awaitable<LogCursor> GetLogCursorOp(Db& db, int64_t service_id);
boost::asio::awaitable<std::vector<ServiceStatus>> RunningServicesOp(Db& db, std::string type);
// monitor_queries.cc: what the operator's page reads.
boost::asio::awaitable<std::vector<ServiceStatus>> ServicesOp(Db& db, std::string type,
                                                              bool running_only);
boost::asio::awaitable<std::vector<StatusRow>> StatusSinceOp(Db& db, int64_t service_id,
                                                             int64_t since_ms, size_t limit);
boost::asio::awaitable<std::vector<LogLine>> SearchLogOp(Db& db, int64_t service_id,
                                                         std::string text,
                                                         std::vector<std::string> any_of,
                                                         size_t limit);
boost::asio::awaitable<std::vector<LogLine>> RecentLogOp(Db& db, int64_t service_id, size_t limit);
boost::asio::awaitable<void> CapTablesOp(Db& db, size_t status_rows, size_t log_rows);
boost::asio::awaitable<void> RegisterHubOp(Db& db, std::string name, std::string address, int port);
boost::asio::awaitable<void> SetBrowserOp(Db& db, std::string browser, std::string hub,
                                          bool connected);
boost::asio::awaitable<void> SetSessionOp(Db& db, std::string session, std::string hub,
                                          std::string compute, bool ended);

// account_ops.cc: accounts, browser sessions, reset tokens.
boost::asio::awaitable<void> CreateAccountOp(Db& db, Account a);
boost::asio::awaitable<std::optional<Account>> GetAccountOp(Db& db, std::string id);
boost::asio::awaitable<bool> SetPasswordHashOp(Db& db, std::string id, std::string hash);
boost::asio::awaitable<bool> SetOperatorOp(Db& db, std::string id, bool is_operator);
boost::asio::awaitable<bool> DeleteAccountOp(Db& db, std::string id);
boost::asio::awaitable<void> CreateBrowserSessionOp(Db& db, std::string token_hash,
                                                    std::string account);
boost::asio::awaitable<std::optional<BrowserSession>> GetBrowserSessionOp(Db& db,
                                                                          std::string token_hash);
boost::asio::awaitable<bool> RevokeBrowserSessionOp(Db& db, std::string token_hash);
boost::asio::awaitable<int64_t> RevokeAccountSessionsOp(Db& db, std::string account);
boost::asio::awaitable<void> CreateResetTokenOp(Db& db, std::string token_hash, std::string account,
                                                int64_t expires_ms);
boost::asio::awaitable<std::optional<std::string>> UseResetTokenOp(Db& db, std::string token_hash,
                                                                   int64_t now_ms);

}  // namespace salvus::store::internal
