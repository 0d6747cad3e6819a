#include "hub/proxy_accept.h"

#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <vector>

#include "hub/proxy_protocol.h"

namespace salvus::hub {

namespace asio = boost::asio;
namespace ip = asio::ip;
using asio::ip::tcp;

asio::awaitable<std::expected<std::optional<ip::address>, std::string>> ReadProxyHeader(
    tcp::socket& sock, std::chrono::milliseconds timeout) {
  // The timer's handler may run after this frame is gone (queued before a
  // cancel): it touches the socket only while the read is still going on.
  struct Deadline {
    bool done = false;
    bool expired = false;
  };
  auto deadline = std::make_shared<Deadline>();
  asio::steady_timer timer(sock.get_executor());
  timer.expires_after(timeout);
  timer.async_wait([deadline, &sock](const boost::system::error_code& ec) {
    if (ec || deadline->done) return;
    deadline->expired = true;
    boost::system::error_code ignored;
    sock.cancel(ignored);
  });
  struct Finish {
    Deadline& d;
    asio::steady_timer& t;
    ~Finish() {
      d.done = true;
      t.cancel();
    }
  } finish{*deadline, timer};

  std::vector<uint8_t> buf(kMaxProxyHeader);
  size_t have = 0;
  for (;;) {
    boost::system::error_code ec;
    co_await sock.async_wait(tcp::socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
    if (deadline->expired) co_return std::unexpected("no PROXY header within the timeout");
    if (ec) co_return std::unexpected("connection failed before its PROXY header: " + ec.message());
    if (have == buf.size()) co_return std::unexpected("PROXY header too long");
    // Peeked, so that only the header's bytes are taken off the socket.
    const size_t n = sock.receive(asio::buffer(buf.data() + have, buf.size() - have),
                                  tcp::socket::message_peek, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec || n == 0) co_return std::unexpected("connection closed before its PROXY header");
    const ProxyParse p = ParseProxyHeader(std::span<const uint8_t>(buf.data(), have + n));
    if (p.state == ProxyParse::State::kInvalid) co_return std::unexpected(p.error);
    const size_t take = p.state == ProxyParse::State::kDone ? p.size - have : n;
    const size_t got = asio::read(sock, asio::buffer(buf.data() + have, take), ec);
    if (ec || got != take) co_return std::unexpected("connection failed in its PROXY header");
    have += take;
    if (p.state == ProxyParse::State::kDone) co_return p.source;
  }
}

}  // namespace salvus::hub
