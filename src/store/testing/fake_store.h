// An in-memory Store for unit tests of code that uses one (the monitor,
// the registry, accounts):
// only the service/status/log and account calls do anything; callbacks are posted to
// the executor, as the real backends do. Thread-safe, so a test thread may
// inspect it while the store's executor runs elsewhere.
#pragma once

#include <boost/asio/post.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <tuple>

#include "store/store.h"

namespace salvus::store {

class FakeStore : public Store {
 public:
  explicit FakeStore(boost::asio::any_io_executor ex) : ex_(ex) {}

  std::string backend() const override { return "fake"; }
  void Migrate(store::Callback<int> cb) override { Post(cb, store::Result<int>(1)); }
  void CreatePermalink(std::string, std::string, std::string,
                       store::Callback<std::string> cb) override {
    Post(cb, store::Result<std::string>(std::unexpected("not in the fake")));
  }
  void GetPermalink(std::string, store::Callback<std::optional<store::Permalink>> cb) override {
    Post(cb, store::Result<std::optional<store::Permalink>>(std::nullopt));
  }
  void PutBlob(store::Blob, store::Done cb) override { Post(cb, store::Result<void>()); }
  void GetBlob(std::string, store::Callback<std::optional<store::Blob>> cb) override {
    Post(cb, store::Result<std::optional<store::Blob>>(std::nullopt));
  }
  void ExpireBlobs(int64_t, store::Callback<int64_t> cb) override {
    Post(cb, store::Result<int64_t>(0));
  }

  void RegisterService(store::Service s, store::Callback<int64_t> cb) override {
    std::lock_guard lock(mu);
    if (fail_register > 0) {
      --fail_register;
      return Post(cb, store::Result<int64_t>(std::unexpected("register: injected failure")));
    }
    auto key = std::tie(s.type, s.name, s.site, s.address, s.port);
    for (auto& [id, old] : services) {
      if (std::tie(old.type, old.name, old.site, old.address, old.port) == key) {
        s.id = id;
        old = s;
        ++registrations;
        return Post(cb, store::Result<int64_t>(id));
      }
    }
    s.id = static_cast<int64_t>(services.size()) + 1;
    services[s.id] = s;
    ++registrations;
    Post(cb, store::Result<int64_t>(s.id));
  }
  void MarkServiceStopped(int64_t id, int64_t stop_ms, store::Done cb) override {
    std::lock_guard lock(mu);
    services[id].running = false;
    services[id].stop_ms = stop_ms;
    Post(cb, store::Result<void>());
  }
  void AddStatus(store::StatusRow s, store::Done cb) override {
    std::lock_guard lock(mu);
    statuses.push_back(s);
    Post(cb, store::Result<void>());
  }
  void AddLogLines(int64_t id, std::vector<store::LogLine> lines, store::LogCursor cursor,
                   store::Done cb) override {
    std::lock_guard lock(mu);
    if (fail_log > 0) {
      --fail_log;
      return Post(cb, store::Result<void>(std::unexpected("log: injected failure")));
    }
    for (auto& l : lines) log.push_back(l);
    cursors[id] = cursor;
    ++log_batches;
    Post(cb, store::Result<void>());
  }
  void GetLogCursor(int64_t id, store::Callback<store::LogCursor> cb) override {
    std::lock_guard lock(mu);
    Post(cb, store::Result<store::LogCursor>(cursors[id]));
  }
  void RunningServices(std::string type,
                       store::Callback<std::vector<store::ServiceStatus>> cb) override {
    std::lock_guard lock(mu);
    std::vector<store::ServiceStatus> out;
    for (auto& [id, s] : services) {
      if (!s.running || (!type.empty() && s.type != type)) continue;
      store::ServiceStatus ss{s, std::nullopt};
      for (auto& st : statuses) {
        if (st.service_id == id) ss.latest = st;
      }
      out.push_back(ss);
    }
    Post(cb, store::Result<std::vector<store::ServiceStatus>>(out));
  }
  void RecentLog(int64_t, size_t, store::Callback<std::vector<store::LogLine>> cb) override {
    Post(cb, store::Result<std::vector<store::LogLine>>(std::vector<store::LogLine>{}));
  }
  void AllServices(std::string type,
                   store::Callback<std::vector<store::ServiceStatus>> cb) override {
    std::lock_guard lock(mu);
    std::vector<store::ServiceStatus> out;
    for (auto& [id, s] : services) {
      if (!type.empty() && s.type != type) continue;
      store::ServiceStatus ss{s, std::nullopt};
      for (auto& st : statuses) {
        if (st.service_id == id) ss.latest = st;
      }
      out.push_back(ss);
    }
    Post(cb, store::Result<std::vector<store::ServiceStatus>>(out));
  }
  void StatusSince(int64_t id, int64_t since_ms, size_t limit,
                   store::Callback<std::vector<store::StatusRow>> cb) override {
    std::lock_guard lock(mu);
    std::vector<store::StatusRow> out;
    for (auto& st : statuses) {
      if (st.service_id == id && st.time_ms >= since_ms) out.push_back(st);
    }
    if (out.size() > limit) out.erase(out.begin(), out.end() - static_cast<ptrdiff_t>(limit));
    Post(cb, store::Result<std::vector<store::StatusRow>>(out));
  }
  // Case as given (the real backends ignore ASCII case).
  void SearchLog(int64_t id, std::string text, std::vector<std::string> any_of, size_t limit,
                 store::Callback<std::vector<store::LogLine>> cb) override {
    std::lock_guard lock(mu);
    ++log_searches;
    std::vector<store::LogLine> out;
    for (auto& l : log) {
      if (l.service_id != id || l.text.find(text) == std::string::npos) continue;
      bool any = any_of.empty();
      for (auto& a : any_of) any = any || l.text.find(a) != std::string::npos;
      if (any) out.push_back(l);
    }
    if (out.size() > limit) out.erase(out.begin(), out.end() - static_cast<ptrdiff_t>(limit));
    last_search_limit = limit;
    Post(cb, store::Result<std::vector<store::LogLine>>(out));
  }
  void CapTables(size_t, size_t, store::Done cb) override { Post(cb, store::Result<void>()); }
  void RegisterHub(std::string, std::string, int, store::Done cb) override {
    Post(cb, store::Result<void>());
  }
  void SetBrowser(std::string, std::string, bool, store::Done cb) override {
    Post(cb, store::Result<void>());
  }
  void SetSession(std::string, std::string, std::string, bool, store::Done cb) override {
    Post(cb, store::Result<void>());
  }

  void CreateAccount(store::Account a, store::Done cb) override {
    std::lock_guard lock(mu);
    if (!accounts.emplace(a.id, a).second) {
      return Post(cb, store::Result<void>(std::unexpected("account id already taken")));
    }
    Post(cb, store::Result<void>());
  }
  void GetAccount(std::string id, store::Callback<std::optional<store::Account>> cb) override {
    std::lock_guard lock(mu);
    auto it = accounts.find(id);
    Post(cb, store::Result<std::optional<store::Account>>(
                 it == accounts.end() ? std::nullopt : std::optional(it->second)));
  }
  void SetPasswordHash(std::string id, std::string hash, store::Callback<bool> cb) override {
    std::lock_guard lock(mu);
    auto it = accounts.find(id);
    if (it != accounts.end()) it->second.password_hash = hash;
    Post(cb, store::Result<bool>(it != accounts.end()));
  }
  void SetOperator(std::string id, bool op, store::Callback<bool> cb) override {
    std::lock_guard lock(mu);
    auto it = accounts.find(id);
    if (it != accounts.end()) it->second.is_operator = op;
    Post(cb, store::Result<bool>(it != accounts.end()));
  }
  void DeleteAccount(std::string id, store::Callback<bool> cb) override {
    std::lock_guard lock(mu);
    std::erase_if(browser_sessions, [&](auto& kv) { return kv.second.account == id; });
    Post(cb, store::Result<bool>(accounts.erase(id) > 0));
  }
  void CreateBrowserSession(std::string h, std::string account, store::Done cb) override {
    std::lock_guard lock(mu);
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    browser_sessions[h] = store::BrowserSession{h, account, now, false};
    Post(cb, store::Result<void>());
  }
  void GetBrowserSession(std::string h,
                         store::Callback<std::optional<store::BrowserSession>> cb) override {
    std::lock_guard lock(mu);
    auto it = browser_sessions.find(h);
    Post(cb, store::Result<std::optional<store::BrowserSession>>(
                 it == browser_sessions.end() ? std::nullopt : std::optional(it->second)));
  }
  void RevokeBrowserSession(std::string h, store::Callback<bool> cb) override {
    std::lock_guard lock(mu);
    auto it = browser_sessions.find(h);
    const bool was = it != browser_sessions.end() && !it->second.revoked;
    if (was) it->second.revoked = true;
    Post(cb, store::Result<bool>(was));
  }
  void RevokeAccountSessions(std::string account, store::Callback<int64_t> cb) override {
    std::lock_guard lock(mu);
    int64_t n = 0;
    for (auto& [h, s] : browser_sessions) {
      if (s.account == account && !s.revoked) s.revoked = true, ++n;
    }
    Post(cb, store::Result<int64_t>(n));
  }
  void CreateResetToken(std::string h, std::string account, int64_t expires_ms,
                        store::Done cb) override {
    std::lock_guard lock(mu);
    reset_tokens[h] = {account, expires_ms};
    Post(cb, store::Result<void>());
  }
  void UseResetToken(std::string h, int64_t now_ms,
                     store::Callback<std::optional<std::string>> cb) override {
    std::lock_guard lock(mu);
    auto it = reset_tokens.find(h);
    std::optional<std::string> account;
    if (it != reset_tokens.end() && it->second.second > now_ms) {
      account = it->second.first;
      reset_tokens.erase(it);
    }
    Post(cb, store::Result<std::optional<std::string>>(account));
  }

  std::mutex mu;
  std::map<std::string, store::Account> accounts;                       // GUARDED_BY(mu)
  std::map<std::string, store::BrowserSession> browser_sessions;        // GUARDED_BY(mu)
  std::map<std::string, std::pair<std::string, int64_t>> reset_tokens;  // GUARDED_BY(mu)
  std::map<int64_t, store::Service> services;                           // GUARDED_BY(mu)
  std::vector<store::StatusRow> statuses;                               // GUARDED_BY(mu)
  std::vector<store::LogLine> log;                                      // GUARDED_BY(mu)
  std::map<int64_t, store::LogCursor> cursors;                          // GUARDED_BY(mu)
  int registrations = 0, log_batches = 0;                               // GUARDED_BY(mu)
  int fail_register = 0, fail_log = 0;  // GUARDED_BY(mu): injected failures
  int log_searches = 0;                 // GUARDED_BY(mu)
  size_t last_search_limit = 0;         // GUARDED_BY(mu)

 private:
  template <class Cb, class R>
  void Post(Cb cb, R r) {
    boost::asio::post(ex_, [cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
  }
  boost::asio::any_io_executor ex_;
};

}  // namespace salvus::store
