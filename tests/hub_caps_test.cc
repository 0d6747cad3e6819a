// The hub's guards through `salvus up` (real hub, real compute server,
// Python kernel): sessions per connection and per client address, the
// Origin check (DNS rebinding), and session ids kept out of the logs.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "client/hub_client.h"
#include "util/child_process.h"
#include "util/raw_http.h"
#include "util/up_process.h"

namespace salvus {
namespace {

using testutil::UpProcess;

// The reply to `m` (other messages are skipped).
proto::Message Call(client::HubClient& c, const proto::Message& m) {
  const uint64_t id = c.Request(m);
  for (;;) {
    auto r = c.Receive();
    if (!r) {
      ADD_FAILURE() << r.error();
      return {};
    }
    if (r->id() == id) return *r;
  }
}

proto::Message StartMessage() {
  proto::Message m;
  m.mutable_start_session()->set_kernel("python");
  return m;
}

TEST(HubCaps, SessionsPerConnectionAndPerClientAddress) {
  UpProcess up({"--kernel", "python", "--max-sessions-per-connection", "2",
                "--max-sessions-per-address", "3"});
  ASSERT_TRUE(up.ok()) << up.log();
  auto c1 = ConnectTo(up);
  auto c2 = ConnectTo(up);
  ASSERT_TRUE(c1 && c2);
  auto a = c1->StartSession("python");
  auto b = c1->StartSession("python");
  ASSERT_TRUE(a && b) << (a ? b.error() : a.error());
  proto::Message r = Call(*c1, StartMessage());
  ASSERT_TRUE(r.has_error()) << r.DebugString();
  EXPECT_EQ(r.error().code(), proto::Error::RESOURCE_EXHAUSTED);
  EXPECT_NE(r.error().text().find("this connection may hold 2 at once"), std::string::npos)
      << r.error().text();
  // Every connection from 127.0.0.1 counts against the address.
  auto c = c2->StartSession("python");
  ASSERT_TRUE(c) << c.error();
  r = Call(*c2, StartMessage());
  ASSERT_TRUE(r.has_error()) << r.DebugString();
  EXPECT_EQ(r.error().code(), proto::Error::RESOURCE_EXHAUSTED);
  EXPECT_NE(r.error().text().find("3 are open from this client's address"), std::string::npos)
      << r.error().text();
  // The sessions work, and one that ends makes room.
  auto run = c1->Execute(*a, "print(6 * 7)");
  ASSERT_TRUE(run) << run.error();
  EXPECT_EQ(run->out, "42\n");
  proto::Message t;
  t.mutable_terminate()->set_session(*a);
  EXPECT_TRUE(Call(*c1, t).has_ack());
  auto d = c2->StartSession("python");
  EXPECT_TRUE(d) << d.error();
  c1->Close();
  c2->Close();
  EXPECT_EQ(up.Stop(), "");
}

// The status line of the answer to a WebSocket upgrade with these headers.
std::string UpgradeStatus(uint16_t port, const std::string& host, const std::string& origin) {
  return testutil::RawHttp(
      port,
      "GET /ws HTTP/1.1\r\nHost: " + host +
          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: " +
          origin + "\r\n\r\n",
      /*status_line_only=*/true);
}

TEST(HubOrigin, ARebindingPageIsRefusedAndTheHubsOwnAddressesPass) {
  UpProcess up({"--kernel", "python"});
  ASSERT_TRUE(up.ok()) << up.log();
  const std::string p = std::to_string(up.port());
  // evil.example resolved to 127.0.0.1: Host and Origin agree, but name no
  // address of this hub.
  EXPECT_EQ(UpgradeStatus(up.port(), "evil.example:" + p, "http://evil.example:" + p),
            "HTTP/1.1 403 Forbidden");
  // An https page on this plain-http hub is not its own page.
  EXPECT_EQ(UpgradeStatus(up.port(), "127.0.0.1:" + p, "https://127.0.0.1:" + p),
            "HTTP/1.1 403 Forbidden");
  EXPECT_EQ(UpgradeStatus(up.port(), "127.0.0.1:" + p, "http://127.0.0.1:" + p),
            "HTTP/1.1 101 Switching Protocols");
  EXPECT_EQ(UpgradeStatus(up.port(), "localhost:" + p, "http://localhost:" + p),
            "HTTP/1.1 101 Switching Protocols");
  EXPECT_EQ(up.Stop(), "");
}

// Whoever has a session id can resume the session: logs (which monitors
// copy into the database) show 8 characters of it, never all.
TEST(HubLogs, SessionIdsAppearByTheirPrefixOnly) {
  UpProcess up({"--kernel", "python", "--reconnect-grace", "1"});
  ASSERT_TRUE(up.ok()) << up.log();
  std::vector<std::string> ids;
  {
    auto c = ConnectTo(up);
    ASSERT_NE(c, nullptr);
    // One dies with its worker (the compute server logs why).
    auto dies = c->StartSession("python");
    ASSERT_TRUE(dies) << dies.error();
    ids.push_back(*dies);
    auto r = c->Execute(*dies, "import os\nos._exit(3)");
    EXPECT_FALSE(r && r->status == proto::Done::OK);
    // One is left when its page goes: detached, then ended after the grace.
    auto left = c->StartSession("python");
    ASSERT_TRUE(left) << left.error();
    ids.push_back(*left);
    c->Close();
  }
  const std::string ended = "detached session " + ids[1].substr(0, 8) + " ended";
  ASSERT_TRUE(testutil::WaitFor([&] { return up.log().find(ended) != std::string::npos; }))
      << up.log();
  const std::string dead = "session " + ids[0].substr(0, 8) + ": ";
  ASSERT_TRUE(testutil::WaitFor([&] { return up.log().find(dead) != std::string::npos; }))
      << up.log();
  EXPECT_EQ(up.Stop(), "");
  const std::string log = up.log();
  for (const std::string& id : ids) {
    ASSERT_GT(id.size(), 8u);
    EXPECT_EQ(log.find(id), std::string::npos) << id << " in\n" << log;
  }
}

}  // namespace
}  // namespace salvus
