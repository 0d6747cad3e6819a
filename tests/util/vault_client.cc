#include "util/vault_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include "core/frame.h"
#include "core/tls.h"

namespace salvus::testutil {

namespace asio = boost::asio;
using asio::ip::tcp;

VaultClient::VaultClient(uint16_t port, const std::string& ca_file)
    : ctx_(core::MakeClientTlsContext({.ca_file = ca_file})) {
  s_ = std::make_unique<asio::ssl::stream<tcp::socket>>(io_, ctx_);
  s_->lowest_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  timeval tv{20, 0};
  setsockopt(s_->lowest_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  core::PrepareClientTls(*s_, "127.0.0.1", false);
  s_->handshake(asio::ssl::stream_base::client);
}

void VaultClient::Send(const proto::VaultRequest& r) { SendRaw(core::EncodeFrame(r)); }

void VaultClient::SendRaw(const std::string& bytes) {
  boost::system::error_code ec;
  asio::write(*s_, asio::buffer(bytes), ec);  // a closed peer shows in the next Receive
}

std::optional<proto::VaultReply> VaultClient::Receive() {
  unsigned char header[core::kFrameHeaderSize];
  boost::system::error_code ec;
  asio::read(*s_, asio::buffer(header), ec);
  if (ec) return std::nullopt;
  std::string body(core::DecodeFrameLength(header), '\0');
  asio::read(*s_, asio::buffer(body), ec);
  if (ec) return std::nullopt;
  proto::VaultReply r;
  if (!r.ParseFromString(body)) return std::nullopt;
  return r;
}

std::optional<proto::VaultReply> VaultClient::Ask(const proto::VaultRequest& r) {
  Send(r);
  return Receive();
}

bool VaultClient::Hello(const std::string& token) {
  proto::VaultRequest r;
  r.set_id(1);
  r.mutable_hello()->set_token(token);
  r.mutable_hello()->set_client("test hub");
  auto a = Ask(r);
  return a && a->has_hello_ok();
}

}  // namespace salvus::testutil
