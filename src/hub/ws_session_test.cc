// A browser's WebSocket in the hub: a session that throws (the exception
// is logged by core::Spawn, the connection's sessions are cleaned up, the
// hub keeps serving others); its rate limit (a client that waits for each
// answer is never slowed, a flood is); a message over the size limits.
// Runs a Hub with one shard against a fake compute server, in-process,
// without Sage.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/frame.h"
#include "core/spawn.h"
#include "hub/router.h"
#include "hub/server.h"
#include "proto/salvus.pb.h"

namespace salvus::hub {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using namespace std::chrono_literals;

// A compute server that says hello, starts sessions ("s1", "s2", ...) and
// acknowledges terminates, remembering which sessions it was told to end
// and the Flow messages it got; an execute of "flood" answers 16 MB of
// output before its done (more than the kernel's socket buffers take).
// It serves `links` connections (one per hub shard).
class FakeCompute {
 public:
  explicit FakeCompute(int links = 1)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    signal(SIGPIPE, SIG_IGN);  // as `salvus compute` does: it answers a hub that stopped
    thread_ = std::thread([this, links] { Accept(links); });
  }
  ~FakeCompute() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    {
      std::lock_guard lock(mu_);
      for (int fd : peers_) ::shutdown(fd, SHUT_RDWR);
    }
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // Whether a Flow with `paused` came for `session` within `timeout`.
  bool WaitForFlow(const std::string& session, bool paused, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      {
        std::lock_guard lock(mu_);
        if (flows_.count({session, paused})) return true;
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  // What the last Flow for `session` said (nullopt: none came).
  std::optional<bool> LastFlow(const std::string& session) {
    std::lock_guard lock(mu_);
    auto it = last_flow_.find(session);
    if (it == last_flow_.end()) return std::nullopt;
    return it->second;
  }

  bool WaitForTerminate(const std::string& session, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      {
        std::lock_guard lock(mu_);
        if (terminated_.count(session)) return true;
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

 private:
  void Accept(int links) {
    std::vector<std::thread> served;
    for (int i = 0; i < links; ++i) {
      boost::system::error_code ec;
      tcp::socket sock(io_);
      acceptor_.accept(sock, ec);
      if (ec) break;
      {
        std::lock_guard lock(mu_);
        peers_.insert(sock.native_handle());
      }
      served.emplace_back([this, s = std::move(sock)]() mutable { Serve(std::move(s)); });
    }
    for (auto& t : served) t.join();
  }

  void Serve(tcp::socket sock) {
    const int fd = sock.native_handle();
    std::string body;
    while (core::ReadFrame(fd, &body) == core::ReadStatus::kOk) {
      proto::Message in, out;
      if (!in.ParseFromString(body)) break;
      out.set_id(in.id());
      if (in.has_hello()) {
        out.mutable_hello_ok()->set_server("fake");
      } else if (in.has_start_session()) {
        out.mutable_session_started()->set_session("s" + std::to_string(++started_));
      } else if (in.has_terminate()) {
        std::lock_guard lock(mu_);
        terminated_.insert(in.terminate().session());
        out.mutable_ack();
      } else if (in.has_flow()) {
        std::lock_guard lock(mu_);
        flows_.insert({in.flow().session(), in.flow().paused()});
        last_flow_[in.flow().session()] = in.flow().paused();
        continue;  // no answer
      } else if (in.has_execute() && in.execute().code() == "flood") {
        proto::Message o;
        o.set_id(in.id());
        o.mutable_output()->set_session(in.execute().session());
        o.mutable_output()->set_text(std::string(64 << 10, 'x'));
        const std::string frame = core::EncodeFrame(o);
        bool ok = true;
        for (int i = 0; i < 256 && ok; ++i) ok = core::WriteAll(fd, frame);
        if (!ok) break;
        out.mutable_done()->set_session(in.execute().session());
      } else {
        out.mutable_done()->set_session(Router::SessionOf(in));
      }
      if (!core::WriteAll(fd, core::EncodeFrame(out))) break;
    }
    std::lock_guard lock(mu_);
    peers_.erase(fd);
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<int> started_{0};
  std::mutex mu_;
  std::set<int> peers_;  // the hub's connections
  std::set<std::string> terminated_;
  std::set<std::pair<std::string, bool>> flows_;
  std::map<std::string, bool> last_flow_;
  std::thread thread_;
};

class Page {
 public:
  // `rcvbuf`: the socket's receive buffer (0: the system's), small for a
  // page that is to fall behind soon.
  explicit Page(uint16_t port, int rcvbuf = 0) : ws_(io_) {
    tcp::socket& s = ws_.next_layer();
    s.open(tcp::v4());
    if (rcvbuf > 0) s.set_option(asio::socket_base::receive_buffer_size(rcvbuf));
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    ws_.handshake("127.0.0.1", "/ws");
  }
  void Send(const std::string& text) { ws_.write(asio::buffer(text)); }
  // The next message (empty when the connection closed, or after 5 s).
  std::string Read() {
    beast::flat_buffer buf;
    boost::system::error_code ec = asio::error::timed_out;
    ws_.async_read(buf, [&](boost::system::error_code e, size_t) { ec = e; });
    io_.restart();
    if (io_.run_for(5s) == 0 || ec) {
      ws_.next_layer().close(ec);
      io_.restart();
      io_.run_for(1s);
      return "";
    }
    return beast::buffers_to_string(buf.data());
  }
  // Why the hub closed the connection (after Read returned "").
  websocket::close_reason CloseReason() const { return ws_.reason(); }
  std::string StartSession() {
    Send(R"({"id": 1, "startSession": {}})");
    const std::string reply = Read();
    const auto at = reply.find("\"session\":\"");
    if (at == std::string::npos) return "";
    const auto begin = at + 11;
    return reply.substr(begin, reply.find('"', begin) - begin);
  }

 private:
  asio::io_context io_;
  websocket::stream<tcp::socket> ws_;
};

TEST(WsSessionTest, AThrowInsideASessionIsLoggedAndItsSessionsCleanedUp) {
  FakeCompute compute;
  HubOptions opt;
  opt.listen = {"127.0.0.1", 0};
  opt.compute = {{"127.0.0.1", compute.port()}};
  opt.threads = 1;
  opt.reconnect_grace = 0ms;  // a closed connection's sessions end at once
  opt.on_ws_message = [](std::string_view text) {
    if (text.find("boom") != std::string_view::npos) throw std::runtime_error("injected fault");
  };
  Hub hub(opt);
  const uint16_t port = hub.Start();
  ASSERT_TRUE(hub.WaitForCompute(5s));

  Page a(port);
  const std::string session = a.StartSession();
  ASSERT_EQ(session, "s1");
  const uint64_t escaped = core::EscapedExceptions();
  a.Send(R"({"id": 2, "execute": {"session": "s1", "code": "boom"}})");
  EXPECT_EQ(a.Read(), "");  // the connection closes
  // The session of the failed connection ends on the compute server...
  EXPECT_TRUE(compute.WaitForTerminate(session, 5s));
  // ...and the exception was logged (once) by Spawn's completion handler.
  EXPECT_EQ(core::EscapedExceptions(), escaped + 1);

  // The hub goes on serving other connections.
  Page b(port);
  const std::string other = b.StartSession();
  EXPECT_EQ(other, "s2");
  b.Send(R"({"id": 3, "execute": {"session": "s2", "code": "1+1"}})");
  EXPECT_NE(b.Read().find("\"done\""), std::string::npos);
  hub.Stop();
}

std::string Execute(uint64_t id, const std::string& session, const std::string& code) {
  return R"({"id": )" + std::to_string(id) + R"(, "execute": {"session": ")" + session +
         R"(", "code": ")" + code + R"("}})";
}

bool IsRateLimited(const std::string& m) { return m.find("RATE_LIMITED") != std::string::npos; }

// Sends `n` requests one after another, each after the previous one's
// done; returns how many RATE_LIMITED notices came meanwhile.
int RunSequentially(Page& page, const std::string& session, uint64_t first, int n) {
  int limited = 0;
  for (uint64_t id = first; id < first + n; ++id) {
    page.Send(Execute(id, session, "1"));
    for (;;) {
      const std::string m = page.Read();
      if (m.empty()) {
        ADD_FAILURE() << "no done for request " << id;
        return limited;
      }
      if (IsRateLimited(m)) ++limited;
      if (m.find("\"done\"") != std::string::npos) break;
    }
  }
  return limited;
}

// Sends `n` requests at once; whether the connection is told it is slowed.
bool FloodIsTold(Page& page, const std::string& session, uint64_t first, int n) {
  for (uint64_t id = first; id < first + n; ++id) page.Send(Execute(id, session, "1"));
  for (int i = 0; i < 2 * n; ++i) {
    const std::string m = page.Read();
    if (m.empty()) return false;
    if (IsRateLimited(m)) return true;
  }
  return false;
}

TEST(WsSessionTest, AClientThatWaitsForEachAnswerIsNeverSlowedAFloodIs) {
  FakeCompute compute;
  HubOptions opt;
  opt.listen = {"127.0.0.1", 0};
  opt.compute = {{"127.0.0.1", compute.port()}};
  opt.threads = 1;
  ASSERT_EQ(opt.max_message_rate, 200.0);  // the default
  Hub hub(opt);
  const uint16_t port = hub.Start();
  ASSERT_TRUE(hub.WaitForCompute(5s));

  // Far more requests than a second's worth, each sent after the previous
  // one's done: none is slowed, nobody is told.
  Page a(port);
  ASSERT_EQ(a.StartSession(), "s1");
  EXPECT_EQ(RunSequentially(a, "s1", 2, 450), 0);

  // Requests sent without waiting: past a second's worth, the connection
  // is told it is slowed.
  Page b(port);
  ASSERT_EQ(b.StartSession(), "s2");
  EXPECT_TRUE(FloodIsTold(b, "s2", 2, 1000));
  hub.Stop();
}

TEST(WsSessionTest, AClientThatResumedOnAnotherEventLoopIsPacedTheSame) {
  FakeCompute compute(2);
  HubOptions opt;
  opt.listen = {"127.0.0.1", 0};
  opt.compute = {{"127.0.0.1", compute.port()}};
  opt.threads = 2;
  Hub hub(opt);
  const uint16_t port = hub.Start();
  ASSERT_TRUE(hub.WaitForCompute(5s));
  // Connections land on either event loop; a resume that lands on the
  // other one is handed over to the session's (its messages are handled,
  // and charged, there). A few rounds make that likely.
  for (int round = 0; round < 4; ++round) {
    std::string session;
    {
      Page a(port);
      session = a.StartSession();
      ASSERT_FALSE(session.empty());
    }  // dropped: the session waits for its page
    Page b(port);
    b.Send(R"({"id": 1, "resume": {"session": ")" + session + R"("}})");
    std::string m;
    do {
      m = b.Read();
      ASSERT_FALSE(m.empty());
    } while (m.find("sessionStarted") == std::string::npos);
    EXPECT_EQ(RunSequentially(b, session, 2, 450), 0) << "round " << round;
    EXPECT_TRUE(FloodIsTold(b, session, 1000, 1000)) << "round " << round;
  }
  hub.Stop();
}

// A page that reads nothing while its cell prints: its session is paused at
// the compute server (Flow) by whichever event loop holds it (a resume may
// have handed the page over), and past the timeout the page is closed with
// the reason, its session unpaused (detached, it buffers its output).
TEST(WsSessionTest, APageThatDoesNotReadHasItsSessionPausedThenIsClosedWithTheReason) {
  FakeCompute compute(2);
  HubOptions opt;
  opt.listen = {"127.0.0.1", 0};
  opt.compute = {{"127.0.0.1", compute.port()}};
  opt.threads = 2;
  opt.max_send_queue = 64 << 10;
  opt.slow_reader_timeout = 1s;
  Hub hub(opt);
  const uint16_t port = hub.Start();
  ASSERT_TRUE(hub.WaitForCompute(5s));
  for (int round = 0; round < 3; ++round) {
    std::string session;
    {
      Page a(port);
      session = a.StartSession();
      ASSERT_FALSE(session.empty());
    }
    Page b(port, 16 << 10);
    b.Send(R"({"id": 1, "resume": {"session": ")" + session + R"("}})");
    std::string m;
    do {
      m = b.Read();
      ASSERT_FALSE(m.empty());
    } while (m.find("sessionStarted") == std::string::npos);
    b.Send(Execute(2, session, "flood"));  // 16 MB; b reads none of it
    EXPECT_TRUE(compute.WaitForFlow(session, true, 5s)) << "round " << round;
    // (While the kernel's socket buffers still take some, it may go on and
    // pause again.) Backed up for the timeout: closed, and its session,
    // detached, goes on.
    std::this_thread::sleep_for(2s);
    EXPECT_EQ(compute.LastFlow(session), std::optional<bool>(false)) << "round " << round;
    while (!b.Read().empty()) {
    }
    const websocket::close_reason why = b.CloseReason();
    EXPECT_EQ(why.code, static_cast<uint16_t>(websocket::close_code::policy_error));
    const std::string reason(why.reason.data(), why.reason.size());
    EXPECT_NE(reason.find("too slow"), std::string::npos) << reason;
  }
  hub.Stop();
}

TEST(WsSessionTest, CodeOverTheLimitIsRefusedAMessageOverTheWebSocketLimitEndsTheConnection) {
  FakeCompute compute;
  HubOptions opt;
  opt.listen = {"127.0.0.1", 0};
  opt.compute = {{"127.0.0.1", compute.port()}};
  opt.threads = 1;
  opt.max_code = 1024;
  opt.max_message = 64 << 10;
  ASSERT_GT(opt.reconnect_grace, 0ms);  // a dropped page's sessions would wait for it
  Hub hub(opt);
  const uint16_t port = hub.Start();
  ASSERT_TRUE(hub.WaitForCompute(5s));

  Page a(port);
  const std::string session = a.StartSession();
  ASSERT_EQ(session, "s1");
  // Code far over its limit, in a message under the WebSocket's: an error
  // that names the request, and the connection goes on.
  a.Send(Execute(5, session, std::string(32 << 10, 'x')));
  const std::string refused = a.Read();
  EXPECT_NE(refused.find(R"("id":"5")"), std::string::npos) << refused.substr(0, 200);
  EXPECT_NE(refused.find("BAD_REQUEST"), std::string::npos) << refused.substr(0, 200);
  a.Send(Execute(6, session, "1"));
  EXPECT_NE(a.Read().find("\"done\""), std::string::npos);

  // Over the WebSocket's limit: closed with 1009 and a reason; its session
  // ends at once (no grace period for a misbehaving client).
  a.Send(std::string(opt.max_message + 1, ' '));
  EXPECT_EQ(a.Read(), "");
  const websocket::close_reason why = a.CloseReason();
  EXPECT_EQ(why.code, static_cast<uint16_t>(websocket::close_code::too_big));
  const std::string reason(why.reason.data(), why.reason.size());
  EXPECT_NE(reason.find("too big"), std::string::npos) << reason;
  EXPECT_TRUE(compute.WaitForTerminate(session, 5s));
  Page b(port);
  b.Send(R"({"id": 1, "resume": {"session": "s1"}})");
  EXPECT_NE(b.Read().find("NOT_FOUND"), std::string::npos);
  hub.Stop();
}

}  // namespace
}  // namespace salvus::hub
