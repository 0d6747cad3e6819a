// The hub behind a real haproxy (send-proxy-v2) through `salvus up --proxy-from`:
// every client is counted by its own address, not haproxy's; nobody but
// haproxy may name a client; WebSockets outlive haproxy's HTTP timeouts
// (its tunnel timeout); the Origin check knows the public site.
//
// Clients connect from loopback addresses of their own (all of 127/8 is
// local on Linux): 127.0.0.2 and .3 through haproxy, .4 straight to the hub;
// haproxy reaches the hub from 127.0.0.9, the one --proxy-from address.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "client/hub_client.h"
#include "util/child_process.h"
#include "util/free_port.h"
#include "util/raw_http.h"
#include "util/up_process.h"

namespace salvus {
namespace {

using namespace std::chrono_literals;
using testutil::UpProcess;

constexpr const char* kProxyAddress = "127.0.0.9";
constexpr const char* kHaproxy = "/usr/sbin/haproxy";

using testutil::ConnectFrom;
using testutil::Exchange;
using testutil::SendFrom;
using testutil::StatusLine;

constexpr const char* kHost = "salvus.example";

std::string Get(const std::string& target) { return testutil::GetRequest(target, kHost); }

int HoldWebSocket(const char* local, uint16_t port) {
  return testutil::HoldWebSocket(local, port, kHost);
}

// The PROXY v2 header a forger would send: TCP over IPv4 from `a.b.c.d`.
std::string ForgedV2(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const unsigned char h[] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49,
                             0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C, a,    b,    c,    d,
                             127,  0,    0,    1,    0x13, 0x88, 0x1F, 0x90};
  return std::string(reinterpret_cast<const char*>(h), sizeof h);
}

// The haproxy.cfg of docs/proxy.md, on loopback ports. Its HTTP timeouts
// are short (2 s) so that the test sees a WebSocket outlive them.
std::string HaproxyConfig(uint16_t front, uint16_t hub) {
  return "global\n"
         "  log stderr format raw local0 info\n"
         "  maxconn 1000\n"
         "defaults\n"
         "  mode http\n"
         "  log global\n"
         "  option httplog\n"
         "  timeout connect 5s\n"
         "  timeout client 2s\n"
         "  timeout server 2s\n"
         "  timeout http-request 2s\n"
         "  timeout tunnel 1h\n"
         "  timeout client-fin 5s\n"
         "frontend site\n"
         "  bind 127.0.0.1:" +
         std::to_string(front) +
         "\n"
         "  default_backend hubs\n"
         "backend hubs\n"
         "  balance leastconn\n"
         "  http-reuse never\n"
         "  option httpchk GET /healthz\n"
         "  server hub1 127.0.0.1:" +
         std::to_string(hub) + " send-proxy-v2 source " + kProxyAddress +
         " check check-send-proxy inter 500ms\n";
}

class HubProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kHaproxy)) GTEST_SKIP() << "no haproxy (scripts/install-deps.sh)";
    up_ = std::make_unique<UpProcess>(std::vector<std::string>{
        "--kernel", "python", "--max-connections-per-address", "2", "--proxy-from",
        std::string(kProxyAddress) + "/32", "--proxy-header-timeout", "2", "--public-origin",
        "https://salvus.example"});
    ASSERT_TRUE(up_->ok()) << up_->log();
    front_ = testutil::FreeLoopbackPort();
    ASSERT_NE(front_, 0);
    const std::string cfg = up_->dir() + "/haproxy.cfg";
    std::ofstream(cfg) << HaproxyConfig(front_, up_->port());
    log_ = up_->dir() + "/haproxy.log";
    haproxy_ = std::make_unique<testutil::Child>(
        std::vector<std::string>{kHaproxy, "-db", "-f", cfg}, log_, log_);
    // Until haproxy listens and its health check found the hub.
    ASSERT_TRUE(testutil::WaitFor(
        [&] {
          return StatusLine(SendFrom("127.0.0.5", front_, Get("/healthz"))) == "HTTP/1.1 200 OK";
        },
        30s))
        << testutil::ReadFile(log_) << up_->log();
  }
  void TearDown() override {
    if (haproxy_) {
      haproxy_->Signal(SIGTERM);
      EXPECT_NE(haproxy_->Wait(10s), -1);
    }
    if (up_) EXPECT_EQ(up_->Stop(), "");
  }

  std::unique_ptr<UpProcess> up_;
  std::unique_ptr<testutil::Child> haproxy_;
  uint16_t front_ = 0;
  std::string log_;
};

// (a) two clients behind haproxy are counted apart; (c) haproxy's own
// address is not what is counted.
TEST_F(HubProxyTest, ClientsBehindHaproxyAreCountedByTheirOwnAddresses) {
  std::vector<int> held;
  ASSERT_TRUE(testutil::WaitFor(
      [&] {
        const int fd = HoldWebSocket("127.0.0.2", front_);
        if (fd != -1) held.push_back(fd);
        return held.size() == 2;
      },
      10s));
  // The third from 127.0.0.2 is past its address's cap...
  const std::string refused = SendFrom("127.0.0.2", front_, Get("/"));
  EXPECT_EQ(StatusLine(refused), "HTTP/1.1 429 Too Many Requests") << refused;
  EXPECT_NE(refused.find("too many connections from your address (at most 2)"), std::string::npos)
      << refused;
  // ...while 127.0.0.3 has its own two, through the same haproxy: four
  // connections from haproxy's address, more than one address may hold.
  for (int i = 0; i < 2; ++i) {
    const int fd = HoldWebSocket("127.0.0.3", front_);
    ASSERT_NE(fd, -1) << i << "\n" << up_->log();
    held.push_back(fd);
  }
  EXPECT_EQ(HoldWebSocket("127.0.0.3", front_), -1);
  const std::string log = up_->log();
  EXPECT_NE(log.find("127.0.0.2 holds 2 connections"), std::string::npos) << log;
  EXPECT_EQ(log.find(std::string(kProxyAddress) + " holds"), std::string::npos) << log;
  // A connection that closes gives its client's place back.
  close(held.front());
  held.erase(held.begin());
  EXPECT_TRUE(testutil::WaitFor(
      [&] {
        const int fd = HoldWebSocket("127.0.0.2", front_);
        if (fd != -1) held.push_back(fd);
        return fd != -1;
      },
      10s));
  for (int fd : held) close(fd);
}

// (b) Only haproxy's address may name a client, and it must.
TEST_F(HubProxyTest, AForgedProxyHeaderIsRefusedAndTheProxyMustSendOne) {
  const uint16_t hub = up_->port();
  // Straight to the hub from 127.0.0.4, claiming to be haproxy's client
  // 10.9.9.9: refused without an answer, whichever version.
  EXPECT_EQ(SendFrom("127.0.0.4", hub, ForgedV2(10, 9, 9, 9) + Get("/healthz")), "");
  EXPECT_EQ(SendFrom("127.0.0.4", hub, "PROXY TCP4 10.9.9.9 127.0.0.1 5000 80\r\n" + Get("/")), "");
  // The address holds nothing meanwhile: its own requests go through.
  EXPECT_EQ(StatusLine(SendFrom("127.0.0.4", hub, Get("/healthz"))), "HTTP/1.1 200 OK");
  // A client of haproxy that sends a header: haproxy does not take it,
  // and the hub never sees it as one.
  EXPECT_NE(StatusLine(SendFrom("127.0.0.2", front_, ForgedV2(10, 9, 9, 9) + Get("/healthz"))),
            "HTTP/1.1 200 OK");
  // haproxy's address without a header, or with a bad one: closed.
  EXPECT_EQ(SendFrom(kProxyAddress, hub, Get("/healthz")), "");
  EXPECT_EQ(SendFrom(kProxyAddress, hub, "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n" + Get("/")), "");
  // ...but with one, it is believed.
  EXPECT_EQ(StatusLine(SendFrom(kProxyAddress, hub, ForgedV2(10, 9, 9, 9) + Get("/healthz"))),
            "HTTP/1.1 200 OK");
  // One that says nothing is closed after --proxy-header-timeout.
  const int silent = ConnectFrom(kProxyAddress, hub);
  ASSERT_NE(silent, -1);
  char c;
  EXPECT_EQ(read(silent, &c, 1), 0);
  close(silent);
  const std::string log = up_->log();
  EXPECT_NE(log.find("127.0.0.4 sent a PROXY header but is not a --proxy-from address"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("proxy 127.0.0.9: not a PROXY header; connection closed"), std::string::npos)
      << log;
  EXPECT_NE(log.find("proxy 127.0.0.9: PROXY v1: bad port"), std::string::npos) << log;
  EXPECT_NE(log.find("proxy 127.0.0.9: no PROXY header within the timeout"), std::string::npos)
      << log;
}

// A page's WebSocket through haproxy: idle longer than haproxy's HTTP
// timeouts, it stays (timeout tunnel); the Origin check takes the public
// site's pages as the hub's own.
TEST_F(HubProxyTest, WebSocketsThroughHaproxyOutliveItsHttpTimeouts) {
  client::HubClientOptions o;
  o.url = "ws://127.0.0.1:" + std::to_string(front_) + "/ws";
  o.connect_timeout_s = 10;
  auto c = client::HubClient::Connect(o);
  ASSERT_TRUE(c) << c.error();
  auto s = (*c)->StartSession("python");
  ASSERT_TRUE(s) << s.error();
  auto r = (*c)->Execute(*s, "print(6 * 7)");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->out, "42\n");
  std::this_thread::sleep_for(3s);  // past timeout client/server (2 s)
  r = (*c)->Execute(*s, "print(7 * 8)");
  ASSERT_TRUE(r) << r.error() << "\n" << testutil::ReadFile(log_);
  EXPECT_EQ(r->out, "56\n");
  (*c)->Close();
  auto status = [&](const std::string& origin) {
    const int fd = ConnectFrom("127.0.0.6", front_);
    if (fd == -1) return std::string("(no connection)");
    const std::string line = StatusLine(Exchange(fd, testutil::UpgradeRequest(kHost, origin)));
    close(fd);
    return line;
  };
  EXPECT_EQ(status("https://salvus.example"), "HTTP/1.1 101 Switching Protocols");
  EXPECT_EQ(status("http://127.0.0.1:" + std::to_string(front_)), "HTTP/1.1 403 Forbidden");
  EXPECT_EQ(status("https://evil.example"), "HTTP/1.1 403 Forbidden");
}

// A proxy's connection waiting for its header holds one of the hub's
// connections (--max-connections), so a proxy that sends none cannot pile
// up descriptors; no haproxy here, its health checks would take some too.
TEST(HubProxy, ConnectionsWaitingForTheirHeaderCountAgainstTheHubsLimit) {
  UpProcess up({"--kernel", "python", "--max-connections", "3", "--proxy-from", kProxyAddress,
                "--proxy-header-timeout", "60"});
  ASSERT_TRUE(up.ok()) << up.log();
  const std::string full = "proxy 127.0.0.9: connection limit (3) reached: connection closed";
  std::vector<int> silent;
  for (int i = 0; i < 10 && up.log().find(full) == std::string::npos; ++i) {
    const int fd = ConnectFrom(kProxyAddress, up.port());
    ASSERT_NE(fd, -1);
    silent.push_back(fd);
    testutil::WaitFor([&] { return up.log().find(full) != std::string::npos; }, 200ms);
  }
  ASSERT_NE(up.log().find(full), std::string::npos) << up.log();
  // The hub is full: another client is refused.
  EXPECT_EQ(StatusLine(SendFrom("127.0.0.4", up.port(), Get("/"))),
            "HTTP/1.1 503 Service Unavailable");
  for (int fd : silent) close(fd);
  EXPECT_TRUE(testutil::WaitFor(
      [&] { return StatusLine(SendFrom("127.0.0.4", up.port(), Get("/"))) == "HTTP/1.1 200 OK"; },
      10s));
  EXPECT_EQ(up.Stop(), "");
}

}  // namespace
}  // namespace salvus
