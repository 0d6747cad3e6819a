#include "hub/proxy_accept.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <string>
#include <vector>

#include "hub/proxy_protocol.h"

namespace salvus::hub {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using Result = std::expected<std::optional<asio::ip::address>, std::string>;

// A loopback connection: the hub's end and the proxy's.
struct Pair {
  asio::io_context io;
  tcp::socket hub{io};
  tcp::socket proxy{io};
  Pair() {
    tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    proxy.connect(a.local_endpoint());
    a.accept(hub);
  }
  void Send(const std::string& s) { asio::write(proxy, asio::buffer(s)); }
  // ReadProxyHeader on the hub's end, while `meanwhile` runs on the loop.
  Result Read(std::chrono::milliseconds timeout,
              std::function<asio::awaitable<void>()> meanwhile = nullptr) {
    Result r = std::unexpected("not run");
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { r = co_await ReadProxyHeader(hub, timeout); },
        asio::detached);
    if (meanwhile) asio::co_spawn(io, meanwhile(), asio::detached);
    io.run();
    return r;
  }
  // What the hub's end has left to read (the proxy's end closes first).
  std::string Rest() {
    proxy.shutdown(tcp::socket::shutdown_send);
    std::string s;
    boost::system::error_code ec;
    asio::read(hub, asio::dynamic_buffer(s), ec);
    return s;
  }
};

std::string V2Ipv4() {
  const unsigned char h[] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49,
                             0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C, 10,   1,    2,    3,
                             127,  0,    0,    1,    0x13, 0x88, 0x1F, 0x90};
  return std::string(reinterpret_cast<const char*>(h), sizeof h);
}

TEST(ReadProxyHeader, TakesExactlyTheHeaderAndLeavesTheRequest) {
  Pair p;
  p.Send(V2Ipv4() + "GET / HTTP/1.1\r\n\r\n");
  const Result r = p.Read(10s);
  ASSERT_TRUE(r) << r.error();
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->to_string(), "10.1.2.3");
  EXPECT_EQ(p.Rest(), "GET / HTTP/1.1\r\n\r\n");
}

// The header in pieces, the first a few bytes of the signature: read as
// they come, the loop free meanwhile.
TEST(ReadProxyHeader, AHeaderInPieces) {
  for (const std::string& header :
       {V2Ipv4(), std::string("PROXY TCP6 2001:db8::5 ::1 40000 443\r\n")}) {
    Pair p;
    p.Send(header.substr(0, 5));
    bool ran = false;
    const Result r = p.Read(10s, [&]() -> asio::awaitable<void> {
      asio::steady_timer t(p.io, 20ms);
      co_await t.async_wait(asio::use_awaitable);
      ran = true;
      p.Send(header.substr(5, 10));
      t.expires_after(20ms);
      co_await t.async_wait(asio::use_awaitable);
      p.Send(header.substr(15) + "\x16\x03\x01");  // then a TLS hello, say
    });
    EXPECT_TRUE(ran);
    ASSERT_TRUE(r) << r.error();
    ASSERT_TRUE(*r);
    EXPECT_TRUE((*r)->to_string() == "10.1.2.3" || (*r)->to_string() == "2001:db8::5");
    EXPECT_EQ(p.Rest(), "\x16\x03\x01");
  }
}

TEST(ReadProxyHeader, ASilentOrSlowProxyTimesOut) {
  {
    Pair p;
    const Result r = p.Read(50ms);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("timeout"), std::string::npos) << r.error();
  }
  Pair p;
  p.Send(V2Ipv4().substr(0, 20));
  const Result r = p.Read(50ms);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("timeout"), std::string::npos) << r.error();
}

TEST(ReadProxyHeader, GarbageOversizedAndClosedAreRefused) {
  {
    Pair p;
    p.Send("GET / HTTP/1.1\r\n\r\n");
    const Result r = p.Read(10s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), "not a PROXY header");
  }
  {
    // Refused from its length, without waiting for the 65535 bytes.
    Pair p;
    std::string h = V2Ipv4().substr(0, 16);
    h[14] = h[15] = '\xFF';
    p.Send(h + std::string(100, 'x'));
    const Result r = p.Read(10s);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("at most " + std::to_string(kMaxProxyHeader)), std::string::npos)
        << r.error();
  }
  {
    Pair p;
    p.Send("PROXY TCP4 1.2.3.4");
    p.proxy.close();
    const Result r = p.Read(10s);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("closed"), std::string::npos) << r.error();
  }
}

TEST(ReadProxyHeader, LocalNamesNoClient) {
  Pair p;
  std::string h = V2Ipv4().substr(0, 16);
  h[12] = 0x20;
  h[13] = 0x00;
  h[15] = 0x00;
  p.Send(h + "GET");
  const Result r = p.Read(10s);
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(*r);
  EXPECT_EQ(p.Rest(), "GET");
}

}  // namespace
}  // namespace salvus::hub
