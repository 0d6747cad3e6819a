// A WebSocket session that throws: the exception is logged by core::Spawn,
// the connection's sessions are cleaned up (the compute server is told to
// end them), and the hub keeps serving other connections. Runs a Hub with
// one shard against a fake compute server, in-process, without Sage.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

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
// acknowledges terminates, remembering which sessions it was told to end.
class FakeCompute {
 public:
  FakeCompute() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeCompute() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    if (const int fd = peer_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

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
  void Serve() {
    boost::system::error_code ec;
    tcp::socket sock(io_);
    acceptor_.accept(sock, ec);
    if (ec) return;
    const int fd = sock.native_handle();
    peer_ = fd;
    int started = 0;
    std::string body;
    while (core::ReadFrame(fd, &body) == core::ReadStatus::kOk) {
      proto::Message in, out;
      if (!in.ParseFromString(body)) break;
      out.set_id(in.id());
      if (in.has_hello()) {
        out.mutable_hello_ok()->set_server("fake");
      } else if (in.has_start_session()) {
        out.mutable_session_started()->set_session("s" + std::to_string(++started));
      } else if (in.has_terminate()) {
        std::lock_guard lock(mu_);
        terminated_.insert(in.terminate().session());
        out.mutable_ack();
      } else {
        out.mutable_done()->set_session(Router::SessionOf(in));
      }
      if (!core::WriteAll(fd, core::EncodeFrame(out))) break;
    }
    peer_ = -1;
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<int> peer_{-1};  // the hub's connection
  std::mutex mu_;
  std::set<std::string> terminated_;
  std::thread thread_;
};

class Page {
 public:
  explicit Page(uint16_t port) : ws_(io_) {
    tcp::resolver resolver(io_);
    asio::connect(ws_.next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
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

}  // namespace
}  // namespace salvus::hub
