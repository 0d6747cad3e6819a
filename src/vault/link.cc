#include "vault/link.h"

#include <spdlog/spdlog.h>

#include "core/descriptors.h"
#include "core/frame.h"

namespace salvus::vault {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr size_t kMaxReplyFrame = 64 * 1024;
}

VaultLink::VaultLink(asio::any_io_executor ex, VaultLinkOptions o) : ex_(ex), opt_(std::move(o)) {
  if (opt_.tls) ssl_.emplace(core::MakeClientTlsContext(opt_.tls_options));
}

VaultLink::~VaultLink() {
  *alive_ = false;
  if (conn_) conn_->Close();
  FailAll("the link to the vault was destroyed");
}

void VaultLink::Close() {
  if (conn_) conn_->Close();
  conn_.reset();
  up_ = false;
  FailAll("the link to the vault was closed");
}

void VaultLink::FailAll(const std::string& why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) {
    if (!p->result) p->result = std::unexpected(why);
    p->wake.cancel();
  }
}

void VaultLink::OnFrame(std::string_view body) {
  proto::VaultReply r;
  if (!r.ParseFromArray(body.data(), static_cast<int>(body.size()))) return;
  auto it = pending_.find(r.id());
  if (it == pending_.end()) return;  // a call that timed out
  it->second->result = std::move(r);
  it->second->wake.cancel();
  pending_.erase(it);
}

asio::awaitable<VaultLink::Result> VaultLink::Await(uint64_t id) {
  auto p = pending_.at(id);
  p->wake.expires_after(opt_.timeout);
  boost::system::error_code ec;
  co_await p->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (p->result) co_return std::move(*p->result);
  pending_.erase(id);
  co_return std::unexpected("the vault did not answer within " +
                            std::to_string(opt_.timeout.count()) + " ms");
}

asio::awaitable<std::optional<std::string>> VaultLink::Connect() {
  const std::string where = opt_.address.host + ":" + std::to_string(opt_.address.port);
  boost::system::error_code ec;
  // The whole of connecting is bounded: the timer closes what hangs.
  auto sock = std::make_shared<tcp::socket>(ex_);
  std::shared_ptr<core::Conn> conn;
  auto conn_box = std::make_shared<std::shared_ptr<core::Conn>>();
  auto timed_out = std::make_shared<bool>(false);
  auto finished = std::make_shared<bool>(false);
  asio::steady_timer deadline(ex_);
  deadline.expires_after(opt_.timeout);
  deadline.async_wait([sock, conn_box, timed_out, finished](boost::system::error_code e) {
    if (e || *finished) return;
    *timed_out = true;
    boost::system::error_code ignore;
    sock->close(ignore);
    if (*conn_box) (*conn_box)->Close();
  });
  tcp::resolver resolver(ex_);
  auto eps = co_await resolver.async_resolve(opt_.address.host, std::to_string(opt_.address.port),
                                             asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) co_await asio::async_connect(*sock, eps, asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) {
    core::SetCloseOnExec(sock->native_handle());
    sock->set_option(tcp::no_delay(true), ec);
    if (ssl_) {
      using Tls = asio::ssl::stream<tcp::socket>;
      auto c = std::make_shared<core::FramedConn<Tls>>(Tls(std::move(*sock), *ssl_), where,
                                                       kMaxReplyFrame);
      conn = c;
      *conn_box = c;
      // The certificate is checked before the token is sent.
      core::PrepareClientTls(c->stream(), opt_.address.host, opt_.tls_options.insecure);
      co_await c->stream().async_handshake(asio::ssl::stream_base::client,
                                           asio::redirect_error(asio::use_awaitable, ec));
    } else {
      conn =
          std::make_shared<core::FramedConn<tcp::socket>>(std::move(*sock), where, kMaxReplyFrame);
    }
  }
  *finished = true;
  deadline.cancel();
  if (ec || *timed_out) {
    if (conn) conn->Close();
    co_return "cannot reach the vault at " + where + ": " +
        (*timed_out ? std::string("timed out") : ec.message());
  }
  core::ConnHandlers h{
      [this, alive = alive_](std::string_view body) {
        if (*alive) OnFrame(body);
      },
      [this, alive = alive_, weak = std::weak_ptr<core::Conn>(conn), where](core::ConnEnd) {
        if (!*alive) return;
        auto c = weak.lock();
        if (c && c == conn_) {
          conn_.reset();
          up_ = false;
          spdlog::warn("vault {}: connection lost", where);
          FailAll("the vault at " + where + " dropped the connection");
        }
      }};
  if (ssl_) {
    static_cast<core::FramedConn<asio::ssl::stream<tcp::socket>>&>(*conn).Start(std::move(h));
  } else {
    static_cast<core::FramedConn<tcp::socket>&>(*conn).Start(std::move(h));
  }
  conn_ = conn;
  proto::VaultRequest hello;
  const uint64_t id = next_id_++;
  hello.set_id(id);
  hello.mutable_hello()->set_token(opt_.token);
  hello.mutable_hello()->set_client(opt_.client);
  pending_.emplace(id, std::make_shared<Pending>(ex_));
  conn->Send(core::EncodeFrame(hello));
  Result r = co_await Await(id);
  if (r && r->has_hello_ok()) {
    up_ = true;
    co_return std::nullopt;
  }
  conn->Close();
  if (conn_ == conn) conn_.reset();
  co_return "the vault at " + where + " refused this hub: " + (r ? r->error().text() : r.error());
}

asio::awaitable<VaultLink::Result> VaultLink::Call(proto::VaultRequest request) {
  // One connection attempt at a time; other calls wait for its outcome.
  for (int i = 0; connecting_ && i < 1000; ++i) {
    asio::steady_timer t(ex_, std::chrono::milliseconds(10));
    co_await t.async_wait(asio::use_awaitable);
  }
  if (!connected()) {
    connecting_ = true;
    auto why = co_await Connect();
    connecting_ = false;
    if (why) co_return std::unexpected(*why);
  }
  const uint64_t id = next_id_++;
  request.set_id(id);
  pending_.emplace(id, std::make_shared<Pending>(ex_));
  conn_->Send(core::EncodeFrame(request));
  co_return co_await Await(id);
}

}  // namespace salvus::vault
