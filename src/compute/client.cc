#include "compute/client.h"

#include "core/frame.h"
#include "core/tls.h"

namespace salvus::compute {

namespace asio = boost::asio;
using asio::ip::tcp;

ComputeClient::ComputeClient() = default;
ComputeClient::~ComputeClient() = default;

std::expected<std::unique_ptr<ComputeClient>, std::string> ComputeClient::Connect(
    const ClientOptions& o) {
  std::unique_ptr<ComputeClient> c(new ComputeClient());
  boost::system::error_code ec;
  tcp::resolver resolver(c->io_);
  auto eps = resolver.resolve(o.host, std::to_string(o.port), ec);
  if (ec) return std::unexpected("cannot resolve " + o.host + ": " + ec.message());
  tcp::socket sock(c->io_);
  asio::connect(sock, eps, ec);
  if (ec) {
    return std::unexpected("cannot connect to " + o.host + ":" + std::to_string(o.port) + ": " +
                           ec.message());
  }
  sock.set_option(tcp::no_delay(true), ec);
  if (o.tls) {
    try {
      c->ctx_.emplace(core::MakeClientTlsContext({o.tls_ca, o.tls_insecure}));
    } catch (const boost::system::system_error& e) {
      return std::unexpected("cannot read CA file " + o.tls_ca + ": " + e.code().message());
    }
    c->tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(sock), *c->ctx_);
    core::PrepareClientTls(*c->tls_, o.host, o.tls_insecure);
    c->tls_->handshake(asio::ssl::stream_base::client, ec);
    if (ec) {
      return std::unexpected("TLS handshake failed: " + ec.message() +
                             (o.tls_insecure
                                  ? ""
                                  : " (the server's certificate must chain to " +
                                        (o.tls_ca.empty() ? std::string("a system CA") : o.tls_ca) +
                                        " and name " + o.host + "; the token was not sent)"));
    }
  } else {
    c->plain_ = std::make_unique<tcp::socket>(std::move(sock));
  }
  proto::Message hello;
  hello.mutable_hello()->set_token(o.token);
  hello.mutable_hello()->set_client("salvus client");
  c->Request(hello);
  auto reply = c->Receive();
  if (!reply) return std::unexpected(reply.error());
  if (reply->has_error()) return std::unexpected("refused by the server: " + reply->error().text());
  if (!reply->has_hello_ok()) return std::unexpected("unexpected reply to hello");
  return c;
}

void ComputeClient::HandleSignals(std::initializer_list<int> signals,
                                  std::function<bool(int)> on_signal) {
  pump_.Handle(signals, std::move(on_signal));
}

void ComputeClient::CloseSocket() {
  boost::system::error_code ec;
  if (tls_) {
    tls_->lowest_layer().close(ec);
  } else {
    plain_->close(ec);
  }
}

bool ComputeClient::Wait(const bool& done) {
  if (pump_.RunUntil(done)) return true;
  stopped_ = true;
  CloseSocket();
  pump_.Drain(done);
  return false;
}

bool ComputeClient::WriteAll(const std::string& data) {
  boost::system::error_code ec;
  if (stopped_) return false;
  if (pump_.active()) {  // asynchronously, so signals are seen while it waits
    bool done = false;
    auto h = [&](const boost::system::error_code& e, size_t) {
      ec = e;
      done = true;
    };
    if (tls_) {
      asio::async_write(*tls_, asio::buffer(data), h);
    } else {
      asio::async_write(*plain_, asio::buffer(data), h);
    }
    return Wait(done) && !ec;
  }
  if (tls_) {
    asio::write(*tls_, asio::buffer(data), ec);
  } else {
    asio::write(*plain_, asio::buffer(data), ec);
  }
  return !ec;
}

bool ComputeClient::ReadExactly(char* p, size_t n) {
  boost::system::error_code ec;
  if (stopped_) return false;
  if (pump_.active()) {
    bool done = false;
    auto h = [&](const boost::system::error_code& e, size_t) {
      ec = e;
      done = true;
    };
    if (tls_) {
      asio::async_read(*tls_, asio::buffer(p, n), h);
    } else {
      asio::async_read(*plain_, asio::buffer(p, n), h);
    }
    return Wait(done) && !ec;
  }
  if (tls_) {
    asio::read(*tls_, asio::buffer(p, n), ec);
  } else {
    asio::read(*plain_, asio::buffer(p, n), ec);
  }
  return !ec;
}

bool ComputeClient::Send(const proto::Message& m) { return WriteAll(core::EncodeFrame(m)); }

uint64_t ComputeClient::Request(proto::Message m) {
  const uint64_t id = next_id_++;
  m.set_id(id);
  Send(m);
  return id;
}

std::expected<proto::Message, std::string> ComputeClient::Receive() {
  unsigned char h[core::kFrameHeaderSize];
  if (!ReadExactly(reinterpret_cast<char*>(h), sizeof h)) {
    if (stopped_) return std::unexpected(kInterruptedBySignal);
    return std::unexpected("connection to the compute server closed");
  }
  const uint32_t len = core::DecodeFrameLength(h);
  if (len > core::kDefaultMaxFrame) return std::unexpected("oversized frame from the server");
  buf_.resize(len);
  if (len > 0 && !ReadExactly(buf_.data(), len)) {
    if (stopped_) return std::unexpected(kInterruptedBySignal);
    return std::unexpected("connection to the compute server closed mid-message");
  }
  proto::Message m;
  if (!m.ParseFromString(buf_)) return std::unexpected("malformed message from the server");
  return m;
}

std::expected<std::string, std::string> ComputeClient::StartSession(const std::string& kernel,
                                                                    const proto::Limits& limits) {
  proto::Message m;
  m.mutable_start_session()->set_kernel(kernel);
  *m.mutable_start_session()->mutable_limits() = limits;
  const uint64_t id = Request(m);
  for (;;) {
    auto r = Receive();
    if (!r) return std::unexpected(r.error());
    if (r->id() != id) continue;
    if (r->has_error()) return std::unexpected(r->error().text());
    if (r->has_session_started()) return r->session_started().session();
  }
}

uint64_t ComputeClient::Interrupt(const std::string& session) {
  proto::Message m;
  m.mutable_interrupt()->set_session(session);
  return Request(m);
}

uint64_t ComputeClient::Terminate(const std::string& session) {
  proto::Message m;
  m.mutable_terminate()->set_session(session);
  return Request(m);
}

std::expected<ComputeClient::Result, std::string> ComputeClient::Execute(
    const std::string& session, const std::string& code,
    const std::function<void(const proto::Output&)>& on_output) {
  proto::Message m;
  m.mutable_execute()->set_session(session);
  m.mutable_execute()->set_code(code);
  const uint64_t id = Request(m);
  Result res;
  for (;;) {
    auto r = Receive();
    if (!r) return std::unexpected(r.error());
    if (r->id() != id) continue;
    if (r->has_error()) return std::unexpected(r->error().text());
    if (r->has_output()) {
      if (on_output) on_output(r->output());
      (r->output().stream() == proto::Output::STDERR ? res.err : res.out) += r->output().text();
    } else if (r->has_done()) {
      res.status = r->done().status();
      res.text = r->done().text();
      return res;
    }
  }
}

}  // namespace salvus::compute
