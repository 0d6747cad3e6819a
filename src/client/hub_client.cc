#include "client/hub_client.h"

#include <google/protobuf/util/json_util.h>

#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cctype>
#include <chrono>
#include <variant>

#include "client/hub_socket.h"
#include "core/json.h"
#include "core/signal_pump.h"

namespace salvus::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace pbu = google::protobuf::util;
using asio::ip::tcp;
using error_code = boost::system::error_code;

struct HubClient::Impl {
  asio::io_context io{1};
  std::optional<asio::ssl::context> ssl;
  std::variant<std::monostate, std::unique_ptr<HubSocket>, std::unique_ptr<TlsHubSocket>> ws;
  core::SignalPump pump{io};
  bool broken = false;  // an operation was cut off, or the connection ended

  template <class F>
  auto With(F&& f) {
    if (auto* p = std::get_if<std::unique_ptr<HubSocket>>(&ws)) return f(**p);
    return f(*std::get<std::unique_ptr<TlsHubSocket>>(ws));
  }
  void Abort() {
    broken = true;
    With([](auto& w) {
      w.Abort();
      return 0;
    });
  }
  void Drain(const bool& done) { pump.Drain(done); }
  bool RunUntil(const bool& done) { return pump.RunUntil(done); }

  // Runs one operation on the socket, started by `op(socket, handler)`, to
  // its end: its error code; kInterruptedBySignal if a signal handler ended
  // the wait (the connection is then aborted).
  template <class Op>
  std::expected<error_code, std::string> Await(Op op) {
    bool done = false;
    error_code ec;
    With([&](auto& w) {
      op(w, [&](const error_code& e, size_t) {
        ec = e;
        done = true;
      });
      return 0;
    });
    if (!RunUntil(done)) {
      Abort();
      Drain(done);
      return std::unexpected(HubClient::kInterruptedBySignal);
    }
    return ec;
  }
};

HubClient::HubClient() : impl_(std::make_unique<Impl>()) {}
HubClient::~HubClient() = default;

void HubClient::HandleSignals(std::initializer_list<int> signals,
                              std::function<bool(int)> on_signal) {
  impl_->pump.Handle(signals, std::move(on_signal));
}

std::expected<std::unique_ptr<HubClient>, std::string> HubClient::Connect(
    const HubClientOptions& o) {
  auto url = ParseHubUrl(o.url);
  if (!url) return std::unexpected(url.error());
  if (o.tls || !o.tls_ca.empty()) url->tls = true;
  std::unique_ptr<HubClient> c(new HubClient());
  c->url_ = *url;
  Impl& im = *c->impl_;
  const std::string where = url->host + ":" + std::to_string(url->port);
  const auto timeout = std::chrono::seconds(o.connect_timeout_s);

  tcp::resolver resolver(im.io);
  bool done = false;
  error_code ec;
  tcp::resolver::results_type eps;
  resolver.async_resolve(url->host, std::to_string(url->port),
                         [&](const error_code& e, tcp::resolver::results_type r) {
                           ec = e;
                           eps = std::move(r);
                           done = true;
                         });
  im.Drain(done);
  if (ec) return std::unexpected("cannot resolve " + url->host + ": " + ec.message());

  beast::tcp_stream tcp_stream(im.io);
  tcp_stream.expires_after(timeout);
  done = false;
  tcp_stream.async_connect(eps, [&](const error_code& e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  im.Drain(done);
  if (ec) {
    return std::unexpected("cannot connect to " + where + ": " +
                           (ec == beast::error::timeout ? "timed out" : ec.message()));
  }
  tcp_stream.socket().set_option(tcp::no_delay(true), ec);

  auto handshake = [&](auto& ws) -> std::expected<void, std::string> {
    done = false;
    ws.AsyncHandshake(where, url->target, timeout, "salvus-exec", [&](const error_code& e) {
      ec = e;
      done = true;
    });
    im.Drain(done);
    if (ec == websocket::error::upgrade_declined) {
      const auto& res = ws.response();
      std::string body = res.body().substr(0, 200);
      while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back())))
        body.pop_back();
      return std::unexpected("no WebSocket at " + o.url + ": the server answered HTTP " +
                             std::to_string(res.result_int()) + " " + std::string(res.reason()) +
                             (body.empty() ? "" : " (" + body + ")"));
    }
    if (ec) {
      return std::unexpected(
          "WebSocket handshake with " + o.url +
          " failed: " + (ec == beast::error::timeout ? "timed out" : ec.message()) +
          (url->tls ? " (is it a Salvus hub's /ws?)"
                    : " (is it a Salvus hub's /ws? a hub with TLS needs wss://)"));
    }
    return {};
  };

  if (url->tls) {
    im.ssl.emplace(asio::ssl::context::tls_client);
    im.ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
    if (!o.tls_ca.empty()) {
      im.ssl->load_verify_file(o.tls_ca, ec);
      if (ec) return std::unexpected("cannot read CA file " + o.tls_ca + ": " + ec.message());
      im.ssl->set_verify_mode(asio::ssl::verify_peer);
      im.ssl->set_verify_callback(asio::ssl::host_name_verification(url->host));
    }
    auto ws = std::make_unique<TlsHubSocket>(std::move(tcp_stream), *im.ssl);
    auto& tls = ws->stream().next_layer();
    // SNI, for hubs behind a proxy that serves several names.
    SSL_set_tlsext_host_name(tls.native_handle(), url->host.c_str());
    done = false;
    beast::get_lowest_layer(tls).expires_after(timeout);
    tls.async_handshake(asio::ssl::stream_base::client, [&](const error_code& e) {
      ec = e;
      done = true;
    });
    im.Drain(done);
    if (ec) {
      return std::unexpected("TLS handshake with " + where + " failed: " +
                             (ec == beast::error::timeout ? "timed out" : ec.message()));
    }
    if (auto r = handshake(*ws); !r) return std::unexpected(r.error());
    im.ws = std::move(ws);
  } else {
    auto ws = std::make_unique<HubSocket>(std::move(tcp_stream));
    if (auto r = handshake(*ws); !r) return std::unexpected(r.error());
    im.ws = std::move(ws);
  }
  return c;
}

std::expected<void, std::string> HubClient::Send(const proto::Message& m) {
  if (impl_->broken) return std::unexpected("the connection to the hub is closed");
  const std::string text = core::ProtoJson(m);
  auto r = impl_->Await([&](auto& ws, auto handler) { ws.AsyncWrite(text, handler); });
  if (!r) return std::unexpected(r.error());
  if (const error_code ec = *r) {
    impl_->broken = true;
    return std::unexpected("cannot send to the hub: " + ec.message());
  }
  return {};
}

uint64_t HubClient::Request(proto::Message m) {
  const uint64_t id = next_id_++;
  m.set_id(id);
  return Send(m) ? id : 0;
}

std::expected<proto::Message, std::string> HubClient::Receive() {
  if (impl_->broken) return std::unexpected("the connection to the hub is closed");
  auto r = impl_->Await([&](auto& ws, auto handler) { ws.AsyncRead(handler); });
  if (!r) return std::unexpected(r.error());
  if (const error_code ec = *r) {
    impl_->broken = true;
    if (ec == websocket::error::closed) {
      const auto reason = impl_->With([](auto& ws) { return ws.reason(); });
      std::string why = "the hub closed the connection";
      if (reason.code != websocket::close_code::none) {
        why += " (code " + std::to_string(reason.code);
        if (!reason.reason.empty())
          why += ": " + std::string(reason.reason.data(), reason.reason.size());
        why += ")";
      }
      return std::unexpected(why);
    }
    return std::unexpected("lost the connection to the hub: " + ec.message());
  }
  if (!impl_->With([](auto& ws) { return ws.got_text(); })) {
    return std::unexpected("the hub sent a binary message; the protocol is JSON text");
  }
  proto::Message m;
  pbu::JsonParseOptions po;
  po.ignore_unknown_fields = true;  // newer hubs may send fields and messages we do not know
  auto st = pbu::JsonStringToMessage(impl_->With([](auto& ws) { return ws.text(); }), &m, po);
  if (!st.ok()) {
    return std::unexpected("malformed message from the hub: " +
                           std::string(st.message().data(), st.message().size()));
  }
  return m;
}

namespace {
std::string ErrorText(const proto::Error& e) {
  return e.text() + " (" + proto::Error::Code_Name(e.code()) + ")";
}
}  // namespace

std::expected<std::string, std::string> HubClient::StartSession(const std::string& kernel) {
  proto::Message m;
  m.mutable_start_session()->set_kernel(kernel);
  const uint64_t id = Request(m);
  if (id == 0)
    return std::unexpected(impl_->broken ? "lost the connection to the hub" : "cannot send");
  for (;;) {
    auto r = Receive();
    if (!r) return std::unexpected(r.error());
    if (r->id() == 0 && r->has_error()) return std::unexpected(ErrorText(r->error()));
    if (r->id() != id) continue;
    if (r->has_error()) return std::unexpected(ErrorText(r->error()));
    if (r->has_session_started()) return r->session_started().session();
    return std::unexpected("unexpected reply to startSession");
  }
}

std::expected<HubClient::Result, std::string> HubClient::Execute(
    const std::string& session, const std::string& code,
    const std::function<void(const proto::Message&)>& on_message) {
  proto::Message m;
  m.mutable_execute()->set_session(session);
  m.mutable_execute()->set_code(code);
  const uint64_t id = next_id_++;
  m.set_id(id);
  if (auto s = Send(m); !s) return std::unexpected(s.error());
  Result res;
  for (;;) {
    auto r = Receive();
    if (!r) return std::unexpected(r.error());
    // With one request in flight, an error without an id is about it (e.g.
    // a message too large to read its id).
    if (r->id() == 0 && r->has_error()) return std::unexpected(ErrorText(r->error()));
    if (r->id() != id) continue;  // session events, replies to interrupts
    if (r->has_error()) return std::unexpected(ErrorText(r->error()));
    if (r->has_output()) {
      (r->output().stream() == proto::Output::STDERR ? res.err : res.out) += r->output().text();
      if (on_message) on_message(*r);
    } else if (r->has_done()) {
      res.status = r->done().status();
      res.text = r->done().text();
      return res;
    } else if (on_message) {
      on_message(*r);  // display and whatever newer hubs send
    }
  }
}

uint64_t HubClient::Interrupt(const std::string& session) {
  proto::Message m;
  m.mutable_interrupt()->set_session(session);
  return Request(m);
}

uint64_t HubClient::Terminate(const std::string& session) {
  proto::Message m;
  m.mutable_terminate()->set_session(session);
  return Request(m);
}

void HubClient::Close() {
  if (impl_->broken || std::holds_alternative<std::monostate>(impl_->ws)) return;
  bool done = false;
  asio::steady_timer timer(impl_->io);
  timer.expires_after(std::chrono::seconds(2));
  timer.async_wait([this](const error_code& e) {
    if (!e) impl_->Abort();
  });
  impl_->With([&](auto& ws) {
    ws.AsyncClose([&](const error_code&) { done = true; });
    return 0;
  });
  impl_->Drain(done);
  timer.cancel();
  bool timer_done = false;
  asio::post(impl_->io, [&] { timer_done = true; });
  impl_->Drain(timer_done);
  impl_->broken = true;
}

}  // namespace salvus::client
