// The hub under floods, through `salvus up` (real hub, real compute server,
// Python kernel), each tried as an attacker would: a page that never reads
// while its cells print a lot; one address opening connection after
// connection; a page that vanishes with its sessions to keep their slots;
// a thousand idle WebSockets beside a page sending 10,000 messages a second.
#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "client/hub_client.h"
#include "util/child_process.h"
#include "util/raw_http.h"
#include "util/up_process.h"

namespace salvus {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using namespace std::chrono_literals;
using testutil::UpProcess;

// Resident memory of `pid`, in KiB (VmRSS).
long RssKb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

using testutil::HoldWebSocket;
using testutil::StatusLine;

// How many times `what` occurs in `text`.
int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// One GET from `local`: its whole answer.
std::string GetFrom(const char* local, uint16_t port, const std::string& target) {
  return testutil::SendFrom(local, port, testutil::GetRequest(target));
}

// 2+2 from a well-behaved page: its output, and how long it took.
std::string TwoPlusTwo(client::HubClient& c, const std::string& session,
                       std::chrono::milliseconds* took) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.Execute(session, "2+2");
  *took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  return r ? r->out : "error: " + r.error();
}

TEST(HubFlood, APageThatNeverReadsIsPausedThenClosedWithAReasonWhileOthersAreServed) {
  UpProcess up({"--kernel", "python", "--max-send-queue-kb", "256", "--slow-reader-timeout", "3"});
  ASSERT_TRUE(up.ok()) << up.log();
  auto good = ConnectTo(up);
  ASSERT_NE(good, nullptr);
  auto gs = good->StartSession("python");
  ASSERT_TRUE(gs) << gs.error();
  std::chrono::milliseconds took{};
  ASSERT_EQ(TwoPlusTwo(*good, *gs, &took), "4\n");
  const long before = RssKb(up.pid());

  // The attacker: a small receive buffer, a session, then cells printing
  // 10 MB each (the output cap of a request), and it reads nothing more.
  asio::io_context io;
  tcp::socket sock(io);
  sock.open(tcp::v4());
  sock.set_option(asio::socket_base::receive_buffer_size(16 << 10));
  sock.connect({asio::ip::make_address("127.0.0.1"), up.port()});
  timeval tv{10, 0};
  setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  websocket::stream<tcp::socket> ws(std::move(sock));
  ws.handshake("127.0.0.1", "/ws");
  ws.text(true);
  ws.write(asio::buffer(std::string(R"({"id": 1, "startSession": {"kernel": "python"}})")));
  beast::flat_buffer buf;
  ws.read(buf);
  proto::Message started;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(beast::buffers_to_string(buf.data()), &started)
          .ok());
  ASSERT_TRUE(started.has_session_started()) << started.DebugString();
  const std::string session = started.session_started().session();
  for (int i = 0; i < 5; ++i) {
    ws.write(asio::buffer(R"({"id": )" + std::to_string(10 + i) + R"(, "execute": {"session": ")" +
                          session +
                          R"js(", "code": "for i in range(200000): print('x' * 99)"}})js"));
  }
  // Meanwhile another page is served at once, and the hub's memory stays
  // flat (without backpressure the hub queued the 50 MB).
  long peak = before;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(TwoPlusTwo(*good, *gs, &took), "4\n");
    EXPECT_LT(took, 5s);  // milliseconds, unless the machine is very busy
    peak = std::max(peak, RssKb(up.pid()));
    std::this_thread::sleep_for(200ms);
  }
  std::cout << "hub RSS (KiB) while a page reads none of 50 MB: before " << before << ", peak "
            << peak << "\n";
  EXPECT_LT(peak - before, 20 << 10) << "hub RSS " << before << " -> " << peak << " KiB";
  // Backed up past --slow-reader-timeout: closed, with the reason.
  ASSERT_TRUE(testutil::WaitFor(
      [&] { return up.log().find("closed (too slow)") != std::string::npos; }, 15s))
      << up.log();
  boost::system::error_code ec;
  size_t messages = 0;
  for (; messages < 100000 && !ec; ++messages) {
    buf.clear();
    ws.read(buf, ec);
  }
  EXPECT_EQ(ec, websocket::error::closed) << ec.message();
  EXPECT_EQ(ws.reason().code, websocket::close_code::policy_error);
  EXPECT_NE(std::string(ws.reason().reason.c_str()).find("too slow"), std::string::npos)
      << ws.reason().reason.c_str();
  EXPECT_EQ(TwoPlusTwo(*good, *gs, &took), "4\n");
  good->Close();
  EXPECT_EQ(up.Stop(), "");
}

TEST(HubFlood, OneAddressCannotTakeEveryConnectionAndHealthzAlwaysAnswers) {
  UpProcess up(
      {"--kernel", "python", "--max-connections-per-address", "6", "--max-connections", "9"});
  ASSERT_TRUE(up.ok()) << up.log();
  const uint16_t port = up.port();
  // The readiness check's connection may still be closing.
  std::vector<int> held;
  ASSERT_TRUE(testutil::WaitFor(
      [&] {
        const int fd = HoldWebSocket("127.0.0.1", port);
        if (fd != -1) held.push_back(fd);
        return held.size() == 6;
      },
      10s));
  // The seventh from that address is refused, with the reason...
  const std::string refused = GetFrom("127.0.0.1", port, "/");
  EXPECT_EQ(StatusLine(refused), "HTTP/1.1 429 Too Many Requests");
  EXPECT_NE(refused.find("too many connections from your address (at most 6)"), std::string::npos)
      << refused;
  EXPECT_EQ(HoldWebSocket("127.0.0.1", port), -1);
  // ...but /healthz answers it, and another address gets in.
  const std::string health = GetFrom("127.0.0.1", port, "/healthz");
  EXPECT_EQ(StatusLine(health), "HTTP/1.1 200 OK");
  EXPECT_NE(health.find("\r\n\r\nok\n"), std::string::npos) << health;
  for (int i = 0; i < 3; ++i) {
    const int fd = HoldWebSocket("127.0.0.2", port);
    ASSERT_NE(fd, -1);
    held.push_back(fd);
  }
  // The hub is full (9): a third address gets 503, /healthz still 200.
  EXPECT_EQ(StatusLine(GetFrom("127.0.0.3", port, "/")), "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(StatusLine(GetFrom("127.0.0.3", port, "/healthz")), "HTTP/1.1 200 OK");
  EXPECT_EQ(StatusLine(GetFrom("127.0.0.1", port, "/healthz")), "HTTP/1.1 200 OK");
  // A connection that closes gives its place back.
  close(held.front());
  held.erase(held.begin());
  EXPECT_TRUE(testutil::WaitFor(
      [&] {
        const int fd = HoldWebSocket("127.0.0.1", port);
        if (fd != -1) held.push_back(fd);
        return fd != -1;
      },
      10s));
  for (int fd : held) close(fd);
  EXPECT_EQ(up.Stop(), "");
}

// The 19,744-WebSocket flood, scaled down (15 addresses, 200 each): the
// memory comes back after it (most of it: what glibc and asio keep for the
// next connections stays), and a second flood costs nothing more.
TEST(HubFlood, MemoryReturnsAfterAFloodOfConnections) {
  UpProcess up({"--kernel", "python", "--max-connections-per-address", "200"});
  ASSERT_TRUE(up.ok()) << up.log();
  const long before = RssKb(up.pid());
  long after_first = 0;
  for (int round = 0; round < 2; ++round) {
    std::vector<int> held;
    for (int a = 10; a < 25; ++a) {
      const std::string local = "127.0.0." + std::to_string(a);
      for (int i = 0; i < 200; ++i) {
        const int fd = HoldWebSocket(local.c_str(), up.port());
        ASSERT_NE(fd, -1) << local << " #" << i;
        held.push_back(fd);
      }
    }
    const long peak = RssKb(up.pid());
    for (int fd : held) close(fd);
    // Read once the hub has trimmed after this flood (it says so; every 5 s
    // at most) and its RSS has settled (two readings 300 ms apart agree): a
    // reading on the way down compares nothing.
    long after = peak;
    const bool back = testutil::WaitFor(
        [&] {
          if (Count(up.log(), "memory handed back to the system") < round + 1) return false;
          const long a = RssKb(up.pid());
          std::this_thread::sleep_for(300ms);
          after = RssKb(up.pid());
          return a == after && after - before < (peak - before) / 2;
        },
        30s);
    std::cout << "hub RSS (KiB): before " << before << ", with 3000 WebSockets " << peak
              << ", after " << after << "\n";
    EXPECT_TRUE(back) << "hub RSS " << before << " -> " << peak << " -> " << after << " KiB";
    if (round == 0) after_first = after;
    if (round == 1) {
      EXPECT_LT(after - after_first, 4 << 10) << after_first << " -> " << after;
    }
  }
  auto c = ConnectTo(up);
  ASSERT_NE(c, nullptr);
  auto s = c->StartSession("python");
  EXPECT_TRUE(s) << s.error();
  c->Close();
  EXPECT_EQ(up.Stop(), "");
}

// A WebSocket frame from a client (masked, with the key 0: the payload as is).
std::string ClientFrame(const std::string& payload) {
  std::string f = "\x81";
  if (payload.size() < 126) {
    f += static_cast<char>(0x80 | payload.size());
  } else {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  }
  return f + std::string(4, '\0') + payload;
}

// The attacker's list: 1,000 idle WebSockets and a page sending up to
// 10,000 messages a second, together. The sender is slowed to the hub's
// rate (TCP pushes back on it), the idle ones stay, the hub's memory stays
// bounded and another page's cells are answered meanwhile.
TEST(HubFlood, AThousandIdleWebSocketsAndATenThousandMessagesASecondSenderTogether) {
  UpProcess up({"--kernel", "python"});
  ASSERT_TRUE(up.ok()) << up.log();
  auto good = ConnectTo(up);
  ASSERT_NE(good, nullptr);
  auto gs = good->StartSession("python");
  ASSERT_TRUE(gs) << gs.error();
  std::chrono::milliseconds took{};
  ASSERT_EQ(TwoPlusTwo(*good, *gs, &took), "4\n");
  const long before = RssKb(up.pid());
  std::vector<int> idle;
  for (int i = 0; i < 1000; ++i) {  // four addresses: at most 512 from one
    const std::string local = "127.0.0." + std::to_string(30 + i % 4);
    const int fd = HoldWebSocket(local.c_str(), up.port());
    ASSERT_NE(fd, -1) << local << " #" << i;
    idle.push_back(fd);
  }
  const int sender = HoldWebSocket("127.0.0.40", up.port());
  ASSERT_NE(sender, -1);
  timeval tv{1, 0};
  setsockopt(sender, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(sender, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::atomic<bool> stop{false};
  std::atomic<long> sent{0}, answered_bytes{0};
  // 100 messages every 10 ms for 5 s (a frame cut by a timed-out write is
  // finished; 10 s more at most); the answers are read and dropped.
  std::thread writer([&] {
    const auto end = std::chrono::steady_clock::now() + 5s;
    std::string pending;
    for (long n = 0;;) {
      const auto now = std::chrono::steady_clock::now();
      if (pending.empty()) {
        if (now >= end) break;
        for (int i = 0; i < 100; ++i, ++n) {
          pending += ClientFrame(R"({"id": )" + std::to_string(n + 1) +
                                 R"(, "interrupt": {"session": "no-such-session"}})");
        }
        sent += 100;
      } else if (now >= end + 10s) {
        break;
      }
      const ssize_t w = write(sender, pending.data(), pending.size());
      if (w > 0) pending.erase(0, w);
      if (pending.empty()) std::this_thread::sleep_for(10ms);
    }
  });
  std::thread reader([&] {
    char buf[65536];
    while (!stop) {
      const ssize_t n = read(sender, buf, sizeof buf);
      if (n == 0) break;
      if (n > 0) answered_bytes += n;
    }
  });
  long peak = before;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(TwoPlusTwo(*good, *gs, &took), "4\n");
    EXPECT_LT(took, 5s);  // milliseconds, unless the machine is very busy
    peak = std::max(peak, RssKb(up.pid()));
    std::this_thread::sleep_for(300ms);
  }
  writer.join();
  stop = true;
  reader.join();
  std::cout << "sender: " << sent << " messages sent, " << answered_bytes
            << " bytes of answers; hub RSS (KiB) before " << before << ", peak " << peak << "\n";
  EXPECT_GT(answered_bytes, 0);
  EXPECT_NE(up.log().find("messages/s; slowing it down"), std::string::npos);
  EXPECT_LT(peak - before, 64 << 10) << "hub RSS " << before << " -> " << peak << " KiB";
  // Every idle WebSocket is still open.
  int closed = 0;
  for (int fd : idle) {
    char c;
    closed += recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
    close(fd);
  }
  EXPECT_EQ(closed, 0);
  close(sender);
  EXPECT_EQ(TwoPlusTwo(*good, *gs, &took), "4\n");
  good->Close();
  EXPECT_EQ(up.Stop(), "");
}

// A page that held every session its address may have and vanished: its
// sessions wait for it, but a new page from the address is not locked out.
TEST(HubFlood, AVanishedPagesDetachedSessionsDoNotBlockItsAddress) {
  UpProcess up(
      {"--kernel", "python", "--max-sessions-per-address", "3", "--reconnect-grace", "120"});
  ASSERT_TRUE(up.ok()) << up.log();
  std::vector<std::string> old;
  {
    auto gone = ConnectTo(up);
    ASSERT_NE(gone, nullptr);
    for (int i = 0; i < 3; ++i) {
      auto s = gone->StartSession("python");
      ASSERT_TRUE(s) << s.error();
      old.push_back(*s);
    }
    gone->Close();
  }
  ASSERT_TRUE(testutil::WaitFor(
      [&] { return up.log().find("detached: its page has") != std::string::npos; }, 10s));
  auto c = ConnectTo(up);
  ASSERT_NE(c, nullptr);
  auto s = c->StartSession("python");
  ASSERT_TRUE(s) << s.error();
  auto r = c->Execute(*s, "2+2");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->out, "4\n");
  EXPECT_TRUE(testutil::WaitFor([&] { return up.log().find("evicted") != std::string::npos; }, 10s))
      << up.log();
  // One of the old sessions made room; the other two wait for their page.
  int resumed = 0, lost = 0;
  for (const std::string& id : old) {
    auto page = ConnectTo(up);
    ASSERT_NE(page, nullptr);
    proto::Message m;
    m.mutable_resume()->set_session(id);
    const uint64_t rid = page->Request(m);
    for (;;) {
      auto got = page->Receive();
      ASSERT_TRUE(got) << got.error();
      if (got->id() != rid) continue;
      if (got->has_session_started()) ++resumed;
      if (got->has_error() && got->error().code() == proto::Error::NOT_FOUND) ++lost;
      break;
    }
    page->Close();
  }
  EXPECT_EQ(resumed, 2);
  EXPECT_EQ(lost, 1);
  c->Close();
  EXPECT_EQ(up.Stop(), "");
}

}  // namespace
}  // namespace salvus
