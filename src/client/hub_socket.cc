#include "client/hub_socket.h"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace salvus::client {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<std::unique_ptr<HubSocket>> OpenHubSocket(
    tcp::endpoint endpoint, std::string host, std::string target,
    std::chrono::steady_clock::duration timeout) {
  auto ex = co_await asio::this_coro::executor;
  auto s = std::make_unique<HubSocket>(ex);
  auto& tcp_stream = boost::beast::get_lowest_layer(s->stream());
  co_await tcp_stream.async_connect(endpoint, asio::use_awaitable);
  tcp_stream.socket().set_option(tcp::no_delay(true));
  co_await s->AsyncHandshake(host, target, timeout, "", asio::use_awaitable);
  co_return s;
}

}  // namespace salvus::client
