#include "soak/browser.h"

#include <google/protobuf/util/json_util.h>

#include <memory>
#include <set>

#include "client/hub_socket.h"
#include "core/json.h"
#include "proto/salvus.pb.h"

namespace salvus::soak {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Ws = client::HubSocket;
using proto::Message;

void Stats::Violation(std::string what) {
  ++violations;
  if (first_violations.size() < 20) first_violations.push_back(std::move(what));
}

namespace {

constexpr auto kAnswerWithin = std::chrono::seconds(60);

std::string Quote(const std::string& s) {
  std::string out;
  core::AppendJsonString(s, &out);
  return out;
}

// What came for one request.
struct Reply {
  bool terminal = false;
  Message last;  // the terminal message
  std::string out, err;
  std::vector<proto::Display> displays;
};

// The connection lost (or cut by the watchdog): the caller reconnects.
struct Lost {};

class Conn {
 public:
  Conn(std::unique_ptr<Ws> ws, Stats& stats, int index)
      : ws_(std::move(ws)), stats_(stats), index_(index) {}

  uint64_t Send(const std::string& body) {
    const uint64_t id = next_id_++;
    pending_writes_.push_back("{\"id\": " + std::to_string(id) + ", " + body + "}");
    return id;
  }

  // Writes what Send queued, then reads until every request in `want` has its
  // answer. Throws Lost if the connection goes.
  asio::awaitable<void> Exchange(std::map<uint64_t, Reply>& want) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer watchdog(ex, kAnswerWithin);
    bool stuck = false;
    Ws* ws = ws_.get();
    watchdog.async_wait([&stuck, ws](boost::system::error_code ec) {
      if (ec) return;
      stuck = true;
      ws->Abort();
    });
    try {
      while (!pending_writes_.empty()) {
        const std::string text = std::move(pending_writes_.front());
        pending_writes_.erase(pending_writes_.begin());
        co_await ws_->AsyncWrite(text, asio::use_awaitable);
      }
      for (;;) {
        bool all = true;
        for (auto& [id, r] : want) all = all && r.terminal;
        if (all) break;
        co_await ws_->AsyncRead(asio::use_awaitable);
        Handle(want);
      }
    } catch (const boost::system::system_error&) {
      watchdog.cancel();
      if (stuck) stats_.Violation("browser " + std::to_string(index_) + ": no answer in 60 s");
      for (auto& [id, r] : want) stats_.cut += !r.terminal;
      throw Lost{};
    }
    watchdog.cancel();
  }

  // The session ended (sessionEnded, or a request's done DIED).
  bool session_ended() const { return session_ended_; }
  void set_session(const std::string& s) {
    session_ = s;
    session_ended_ = false;
  }
  const std::string& session() const { return session_; }
  void Abort() { ws_->Abort(); }

 private:
  void Handle(std::map<uint64_t, Reply>& want) {
    Message m;
    if (!google::protobuf::util::JsonStringToMessage(std::string(ws_->text()), &m).ok()) {
      stats_.Violation("browser " + std::to_string(index_) + ": unparsable message " +
                       std::string(ws_->text().substr(0, 200)));
      return;
    }
    const std::string who = "browser " + std::to_string(index_) + ": ";
    if (m.id() == 0) {
      if (m.has_session_ended() && m.session_ended().session() == session_) {
        session_ended_ = true;
        ++stats_.sessions_ended;
      }
      return;
    }
    auto it = want.find(m.id());
    if (it == want.end()) {
      stats_.Violation(who +
                       (m.id() < next_id_ ? "a message after its request's answer: "
                                          : "a message for a request never sent: ") +
                       m.ShortDebugString().substr(0, 200));
      return;
    }
    Reply& r = it->second;
    if (r.terminal) {
      stats_.Violation(who + "a second answer to request " + std::to_string(m.id()) + ": " +
                       m.ShortDebugString().substr(0, 200));
      return;
    }
    if (m.has_output()) {
      (m.output().stream() == proto::Output::STDERR ? r.err : r.out) += m.output().text();
    } else if (m.has_display()) {
      r.displays.push_back(m.display());
    } else if (m.has_done() || m.has_error() || m.has_ack() || m.has_session_started()) {
      r.terminal = true;
      r.last = m;
      if (m.has_done() && m.done().status() == proto::Done::DIED) session_ended_ = true;
    }
  }

  std::unique_ptr<Ws> ws_;
  Stats& stats_;
  int index_;
  uint64_t next_id_ = 1;
  std::vector<std::string> pending_writes_;
  std::string session_;
  bool session_ended_ = false;
};

std::string StatusName(const Reply& r) {
  if (r.last.has_error()) return "error reply";
  return proto::Done::Status_Name(r.last.done().status());
}

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

std::string Execute(const std::string& session, const std::string& code) {
  return "\"execute\": {\"session\": \"" + session + "\", \"code\": " + Quote(code) + "}";
}

// Runs one cell of kind `kind` and checks its answer.
asio::awaitable<void> RunCell(Conn& c, const std::string& kind, std::mt19937& rng, Stats& st,
                              int index, bool* state_set, long* state_value) {
  const std::string who = "browser " + std::to_string(index) + ", " + kind + ": ";
  const std::string& s = c.session();
  std::map<uint64_t, Reply> want;
  std::string expect_out;
  uint64_t id = 0;
  if (kind == "print") {
    const int n = std::uniform_int_distribution<int>(1, 2000)(rng);
    for (int i = 0; i < n; ++i) expect_out += "L" + std::to_string(i) + "\n";
    id = c.Send(Execute(s, "for i in range(" + std::to_string(n) + "): print('L%d' % i)"));
  } else if (kind == "arith") {
    expect_out = "4\n";
    id = c.Send(Execute(s, "2+2"));
  } else if (kind == "error") {
    id = c.Send(Execute(s, "1/0"));
  } else if (kind == "plot") {
    id = c.Send(Execute(s, "plot(sin(x), (x, 0, 1))"));
  } else if (kind == "state") {
    if (!*state_set) {
      *state_value = std::uniform_int_distribution<long>(1, 1000000)(rng);
      id = c.Send(Execute(s, "soak_v = " + std::to_string(*state_value)));
    } else {
      expect_out = std::to_string(*state_value) + "\n";
      id = c.Send(Execute(s, "print(soak_v)"));
    }
  } else if (kind == "interrupt") {
    id = c.Send(Execute(s, "sleep(30)"));
    want[id];
    // The interrupt goes 300 ms later: while the cell sleeps or, under
    // load, before it has started (it stops the cell then as it starts).
    std::map<uint64_t, Reply> none;
    co_await c.Exchange(none);  // sends the execute
    co_await Sleep(std::chrono::milliseconds(300));
    want[c.Send("\"interrupt\": {\"session\": \"" + s + "\"}")];
  } else if (kind == "interact") {
    id = c.Send(Execute(s, "@interact\ndef f(n=slider(1, 5, 1, 2)):\n    print(n*n)"));
  }
  want[id];
  co_await c.Exchange(want);
  Reply& r = want[id];
  const std::string status = StatusName(r);
  ++st.done[status];
  if (status == "error reply") {
    ++st.error_replies;
    c.set_session("");  // e.g. the session ended as the request went
    co_return;
  }
  if (status == "DIED" || status == "REJECTED") {  // a fault took the session
    if (!expect_out.empty() && expect_out.compare(0, r.out.size(), r.out) != 0) {
      st.Violation(who + "output of a cell that died is not a prefix of what it prints: " +
                   r.out.substr(0, 100));
    }
    c.set_session("");
    co_return;
  }
  const std::string want_status = kind == "error"       ? "ERROR"
                                  : kind == "interrupt" ? "INTERRUPTED"
                                                        : "OK";
  if (status != want_status) {
    st.Violation(who + "done " + status + ", expected " + want_status + " (" +
                 r.err.substr(0, 200) + ")");
    co_return;
  }
  if (!expect_out.empty() && r.out != expect_out) {
    st.Violation(who + "output " + std::to_string(r.out.size()) + " bytes, expected " +
                 std::to_string(expect_out.size()) + ": lost or repeated output");
  }
  if (kind == "state") *state_set = true;
  if (kind == "error" && r.err.find("ZeroDivisionError") == std::string::npos) {
    st.Violation(who + "no ZeroDivisionError in its stderr");
  }
  if (kind == "plot") {
    bool image = false;
    for (const auto& d : r.displays) image = image || d.mime().rfind("image/", 0) == 0;
    if (!image) st.Violation(who + "no image");
  }
  if (kind == "interact") {
    std::string name;
    for (const auto& d : r.displays) {
      if (d.mime() == "application/x-salvus-interact") name = d.name();
    }
    if (name.empty()) {
      st.Violation(who + "no interact");
      co_return;
    }
    std::map<uint64_t, Reply> update;
    const uint64_t uid =
        c.Send("\"interactUpdate\": {\"session\": \"" + s + "\", \"interact\": \"" + name +
               "\", \"values\": \"{\\\"n\\\": 3}\"}");
    update[uid];
    co_await c.Exchange(update);
    const Reply& u = update[uid];
    const std::string ustatus = StatusName(u);
    if (ustatus == "DIED" || ustatus == "REJECTED" || ustatus == "error reply") {
      c.set_session("");
    } else if (ustatus != "OK" || u.out != "9\n") {
      st.Violation(who + "update: done " + ustatus + ", output \"" + u.out.substr(0, 50) + "\"");
    }
  }
}

const char* PickKind(std::mt19937& rng) {
  static const std::vector<std::pair<const char*, int>> kKinds = {
      {"print", 30},     {"arith", 25},    {"error", 10}, {"plot", 5},
      {"interrupt", 10}, {"interact", 10}, {"state", 10}};
  int total = 0;
  for (auto& k : kKinds) total += k.second;
  int x = std::uniform_int_distribution<int>(0, total - 1)(rng);
  for (auto& k : kKinds) {
    if (x < k.second) return k.first;
    x -= k.second;
  }
  return "arith";
}

}  // namespace

asio::awaitable<void> RunBrowser(int index, BrowserOptions o, Stats& st, std::mt19937 rng) {
  std::unique_ptr<Conn> c;
  bool state_set = false;
  long state_value = 0;
  std::uniform_int_distribution<int> think(static_cast<int>(o.think_min.count()),
                                           static_cast<int>(o.think_max.count()));
  // Browsers arrive over the first seconds, not all in one instant.
  co_await Sleep(std::chrono::milliseconds(think(rng)));
  while (Clock::now() < o.end) {
    try {
      if (!c) {
        c = std::make_unique<Conn>(
            co_await client::OpenHubSocket(
                tcp::endpoint(asio::ip::make_address("127.0.0.1"), o.port), "127.0.0.1", "/ws"),
            st, index);
        ++st.connects;
      }
      if (c->session().empty() || c->session_ended()) {
        std::map<uint64_t, Reply> want;
        const uint64_t id = c->Send("\"startSession\": {}");
        want[id];
        ++st.starts;
        co_await c->Exchange(want);
        if (!want[id].last.has_session_started()) {
          ++st.start_failures;  // e.g. while the compute server restarts
          ++st.start_errors[want[id].last.error().text().substr(0, 60)];
          co_await Sleep(std::chrono::milliseconds(500));
          continue;
        }
        c->set_session(want[id].last.session_started().session());
        state_set = false;
      }
      const std::string kind = PickKind(rng);
      ++st.requests;
      ++st.cells[kind];
      co_await RunCell(*c, kind, rng, st, index, &state_set, &state_value);
      co_await Sleep(std::chrono::milliseconds(think(rng)));
    } catch (const Lost&) {
      c.reset();
    } catch (const boost::system::system_error&) {
      c.reset();  // the hub is restarting: try again soon
    }
    if (!c) co_await Sleep(std::chrono::milliseconds(300));
  }
  if (c && !c->session().empty() && !c->session_ended()) {
    try {
      std::map<uint64_t, Reply> want;
      want[c->Send("\"terminate\": {\"session\": \"" + c->session() + "\"}")];
      co_await c->Exchange(want);
    } catch (...) {
    }
  }
  if (c) c->Abort();
}

}  // namespace salvus::soak
