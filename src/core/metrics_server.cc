#include "core/metrics_server.h"

#include <chrono>
#include <stdexcept>

#include "core/address.h"
#include "core/spawn.h"

namespace salvus::core::metrics {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr size_t kMaxRequest = 8192;
constexpr int kMaxOpen = 16;
constexpr auto kRequestTimeout = std::chrono::seconds(5);

std::string Response(const char* status, const char* type, const std::string& body) {
  return std::string("HTTP/1.1 ") + status + "\r\nServer: salvus\r\nContent-Type: " + type +
         "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

}  // namespace

uint16_t MetricsServer::Start(const std::string& host_port) {
  auto hp = ParseHostPort(host_port);
  if (!hp) throw std::runtime_error("--metrics-listen: " + hp.error());
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(hp->host, ec);
  if (ec) throw std::runtime_error("--metrics-listen: not an IP address: " + hp->host);
  tcp::endpoint ep(addr, hp->port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep, ec);
  if (ec) throw std::runtime_error("--metrics-listen " + host_port + ": " + ec.message());
  acceptor_.listen();
  Spawn(io_, Accept(), "metrics listener");
  return acceptor_.local_endpoint().port();
}

void MetricsServer::Stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> MetricsServer::Accept() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket s = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) continue;
    if (open_ >= kMaxOpen) {
      s.close(ec);  // a scraper retries; a flood does not hold the listener
      continue;
    }
    ++open_;
    Spawn(io_, Serve(std::move(s)), "metrics request");
  }
}

asio::awaitable<void> MetricsServer::Serve(tcp::socket s) {
  asio::steady_timer deadline(io_, kRequestTimeout);
  deadline.async_wait([&s](boost::system::error_code ec) {
    if (!ec) s.close(ec);
  });
  std::string req;
  boost::system::error_code ec;
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < kMaxRequest) {
    char buf[1024];
    const size_t n = co_await s.async_read_some(asio::buffer(buf),
                                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    req.append(buf, n);
  }
  if (!ec && req.find("\r\n\r\n") != std::string::npos) {
    const std::string res =
        req.starts_with("GET /metrics ") || req.starts_with("GET /metrics?")
            ? Response("200 OK", "text/plain; version=0.0.4; charset=utf-8", registry_.Text())
            : Response("404 Not Found", "text/plain; charset=utf-8", "only GET /metrics here\n");
    co_await asio::async_write(s, asio::buffer(res), asio::redirect_error(asio::use_awaitable, ec));
  }
  deadline.cancel();
  s.close(ec);
  --open_;
}

}  // namespace salvus::core::metrics
