#include "hub/server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <deque>
#include <set>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/sha1.h"
#include "core/tls.h"
#include "hub/coalescing_stream.h"
#include "hub/discovery.h"
#include "hub/rate_limit.h"
#include "hub/router.h"
#include "hub/static_files.h"
#include "store/await_store.h"
#include "store/store.h"

namespace salvus::hub {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

http::response<http::string_body> TextResponse(const http::request<http::string_body>& req,
                                               http::status st, std::string text) {
  http::response<http::string_body> res{st, req.version()};
  res.set(http::field::server, "salvus");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(text) + "\n";
  res.prepare_payload();
  return res;
}

// "name" from a query string, reduced to characters safe in a header.
std::string DownloadName(std::string_view target) {
  std::string name;
  if (auto q = target.find("?name="); q != std::string_view::npos) {
    for (char c : target.substr(q + 6)) {
      if (c == '&') break;
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') {
        name.push_back(c);
      }
      if (name.size() >= 100) break;
    }
  }
  return name.empty() ? "download" : name;
}

bool ValidPermalinkId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// A page may open /ws when it comes from the hub itself, from an allowed
// origin, or is no page at all (no Origin header: command-line clients).
bool OriginAllowed(const http::request<http::string_body>& req,
                   const std::vector<std::string>& allowed) {
  auto it = req.find(http::field::origin);
  if (it == req.end()) return true;
  const std::string_view origin(it->value().data(), it->value().size());
  for (const auto& a : allowed) {
    if (a == "*" || a == origin) return true;
  }
  auto h = req.find(http::field::host);
  if (h == req.end()) return false;
  const std::string_view host(h->value().data(), h->value().size());
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.substr(0, scheme.size()) == scheme && origin.substr(scheme.size()) == host) {
      return true;
    }
  }
  return false;
}

// Holds one of the hub's connection slots while a connection is open.
class ConnSlot {
 public:
  explicit ConnSlot(std::atomic<size_t>* count) : count_(count) {}
  ConnSlot(ConnSlot&& o) noexcept : count_(std::exchange(o.count_, nullptr)) {}
  ConnSlot& operator=(ConnSlot&&) = delete;
  ~ConnSlot() {
    if (count_) count_->fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<size_t>* count_;
};

}  // namespace

// Where each session is: the shard whose Router holds it, so that a resume
// arriving on another shard finds it (whether the session is detached or
// still attached to a connection the hub thinks alive). Shared by the shards
// of a hub; touched once when a session starts and once when it ends, and
// by resumes, so the mutex is no bottleneck.
class SessionDirectory {
 public:
  void Put(const std::string& session, unsigned shard) {
    std::lock_guard lock(mu_);
    where_[session] = shard;
  }
  void Erase(const std::string& session, unsigned shard) {
    std::lock_guard lock(mu_);
    if (auto it = where_.find(session); it != where_.end() && it->second == shard) where_.erase(it);
  }
  std::optional<unsigned> Find(const std::string& session) {
    std::lock_guard lock(mu_);
    auto it = where_.find(session);
    if (it == where_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, unsigned> where_;
};

// What the shard needs of a browser connection, whatever its transport.
class Browser {
 public:
  virtual ~Browser() = default;
  virtual void Send(std::string text) = 0;
  virtual void Close() = 0;
  virtual void Abort() = 0;  // closes the socket now
  virtual bool Local() const { return true; }
  // A local WebSocket handed over to another shard (to resume a session held
  // there): its messages go to that shard's Router. -1: not handed over.
  int handed_to = -1;
};

// One browser's WebSocket: a read loop feeding the shard's Router, and one
// writer draining a queue (Beast allows one outstanding write).
template <class Stream>
class WsConn : public Browser, public std::enable_shared_from_this<WsConn<Stream>> {
 public:
  WsConn(websocket::stream<Stream> ws, uint64_t id)
      : ws_(std::move(ws)), id_(id), wake_(ws_.get_executor()) {
    wake_.expires_at(std::chrono::steady_clock::time_point::max());
  }
  uint64_t id() const { return id_; }
  websocket::stream<Stream>& ws() { return ws_; }

  void Send(std::string text) override {
    if (closed_) return;
    queue_.push_back(std::move(text));
    wake_.cancel();
  }
  void Close() override {
    closed_ = true;
    wake_.cancel();
  }
  void Abort() override {
    Close();
    beast::get_lowest_layer(ws_).close();
  }

  asio::awaitable<void> WriteLoop() {
    auto self = this->shared_from_this();
    while (!closed_) {
      if (queue_.empty()) {
        boost::system::error_code ec;
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      std::string text = std::move(queue_.front());
      queue_.pop_front();
      boost::system::error_code ec;
      ws_.text(true);
      co_await ws_.async_write(asio::buffer(text), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
    closed_ = true;
  }

 private:
  websocket::stream<Stream> ws_;
  uint64_t id_;
  asio::steady_timer wake_;
  std::deque<std::string> queue_;
  bool closed_ = false;
};

class Hub::Shard {
 public:
  // `tls`: shared by every shard (an SSL_CTX is safe to use from several
  // threads once set up); null for plain http.
  Shard(const HubOptions& opt, Hub* hub, unsigned index, unsigned shards, asio::ssl::context* tls,
        BlobStore* blobs, SessionDirectory* directory)
      : opt_(opt),
        hub_(hub),
        index_(index),
        nshards_(shards),
        acceptor_(io_),
        router_(opt.compute.size(), opt.max_code, 64 * 1024, opt.reconnect_grace),
        tls_(tls),
        blobs_(blobs),
        directory_(directory) {
    if (!opt.db.empty()) {
      store::Options so;
      so.prune_interval_s = index == 0 ? 60 : 0;  // one shard prunes the capped tables
      auto st = store::OpenStore(opt.db, io_.get_executor(), so);
      if (!st) throw std::runtime_error("cannot open the database: " + st.error());
      store_ = std::move(*st);
    }
    for (size_t i = 0; i < opt.compute.size(); ++i) NewLink(opt.compute[i]);
    router_.SetSessionObserver([this](const std::string& session, bool here) {
      if (here) {
        directory_->Put(session, index_);
      } else {
        directory_->Erase(session, index_);
      }
    });
  }

  // What the Store says of the compute servers (discovery.h): links to the
  // new ones, their load, and which take new sessions.
  void PostComputeReports(std::vector<ComputeReport> reports) {
    asio::post(io_, [this, r = std::move(reports)] { OnComputeReports(r); });
  }

  uint16_t Bind(uint16_t port) {
    tcp::endpoint ep(asio::ip::make_address(opt_.listen.host), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    int one = 1;
    setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    return acceptor_.local_endpoint().port();
  }

  void Run() {
    for (auto& l : links_) l->Start();
    asio::co_spawn(io_, AcceptLoop(), asio::detached);
    if (opt_.reconnect_grace.count() > 0) asio::co_spawn(io_, ExpireLoop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }

  // Whether every --compute link of this shard is up.
  bool AllLinksUp() const {
    return links_up_.load(std::memory_order_relaxed) == static_cast<int>(opt_.compute.size());
  }

  void Stop() {
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& l : links_) l->Stop();
      for (auto& [id, c] : conns_) c->Abort();
      io_.stop();
    });
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Dispatch(std::vector<Out>& outs) {
    for (Out& o : outs) {
      if (o.kind == Out::kToBrowser) {
        if (auto it = conns_.find(o.conn); it != conns_.end()) it->second->Send(std::move(o.text));
      } else if (o.kind == Out::kBlob) {
        KeepBlob(std::move(*o.msg.mutable_blob()));
      } else if (o.kind == Out::kToStore) {
        HandleStore(o.conn, std::move(o.msg));
      } else if (o.kind == Out::kDetached) {
        spdlog::info("session {} detached: its page has {} s to reconnect", o.text,
                     opt_.reconnect_grace.count() / 1000);
      } else if (o.kind == Out::kUndetached) {
        if (o.msg.has_session_ended()) {
          spdlog::info("detached session {} ended: {}", o.text, o.msg.session_ended().reason());
        } else {
          spdlog::info("session {} resumed by browser {}", o.text, o.conn);
        }
      } else if (o.kind == Out::kResumeElsewhere) {
        ResumeElsewhere(o.conn, o.msg);
      } else {
        // The Router only routes to links that are up; a link that goes
        // down tells the Router (OnComputeLost), which answers what waits.
        links_[o.link]->Send(o.msg);
      }
    }
  }

  // A link to the compute server at `where`, index links_.size() (the
  // Router's index too). The --compute ones come first.
  size_t NewLink(const core::HostPort& where) {
    const size_t i = links_.size();
    if (i >= router_.links()) router_.AddLink();  // the --compute ones it has
    const bool configured = i < opt_.compute.size();
    LinkOptions lo{where, opt_.token, opt_.compute_tls, opt_.compute_tls_ca};
    links_.push_back(std::make_unique<ComputeLink>(
        io_, lo,
        ComputeLink::Handlers{
            [this, i, configured] {
              router_.SetLinkUp(i, true);
              if (configured) links_up_.fetch_add(1, std::memory_order_relaxed);
            },
            [this, i](const proto::Message& m) {
              std::vector<Out> outs;
              router_.OnComputeMessage(i, m, &outs);
              Dispatch(outs);
            },
            [this, i, configured](const std::string& why) {
              if (configured) links_up_.fetch_sub(1, std::memory_order_relaxed);
              std::vector<Out> outs;
              router_.OnComputeLost(i, why, &outs);
              Dispatch(outs);
            }}));
    link_index_[where.host + ":" + std::to_string(where.port)] = i;
    return i;
  }

  void OnComputeReports(const std::vector<ComputeReport>& reports) {
    const bool log = index_ == 0;  // one shard speaks for the hub
    std::set<size_t> listed;
    for (const ComputeReport& r : reports) {
      const std::string where = r.host + ":" + std::to_string(r.port);
      auto it = link_index_.find(where);
      size_t i;
      if (it != link_index_.end()) {
        i = it->second;
      } else {
        if (!r.fresh) continue;  // not reporting: not worth a connection
        i = NewLink({r.host, r.port});
        if (log) spdlog::info("compute {}: discovered (service {})", where, r.service_id);
        links_[i]->Start();
      }
      listed.insert(i);
      if (r.has_status && r.has_stats) {
        router_.SetLinkReport(i, {r.time_ms, r.stats.sessions(), r.stats.max_sessions(),
                                  r.stats.cpus(), r.load1});
      }
      if (router_.link(i).in_rotation != r.fresh) {
        router_.SetLinkInRotation(i, r.fresh);
        if (log && r.fresh) spdlog::info("compute {}: reporting again; back in rotation", where);
        if (log && !r.fresh) {
          spdlog::warn("compute {}: no report for over {} s; out of rotation (no new sessions)",
                       where, opt_.stale_after.count() / 1000.0);
        }
      }
    }
    // Not running as far as the database knows.
    for (auto it = link_index_.begin(); it != link_index_.end();) {
      const size_t i = it->second;
      const bool configured = i < opt_.compute.size();
      if (listed.count(i) || (configured && !router_.link(i).reported)) {
        ++it;
        continue;
      }
      if (router_.link(i).in_rotation) {
        router_.SetLinkInRotation(i, false);
        if (log) spdlog::info("compute {}: stopped (per the database); out of rotation", it->first);
      }
      if (!configured && !router_.link(i).up) {  // gone: let it go
        links_[i]->Stop();
        router_.RemoveLink(i);
        it = link_index_.erase(it);
        continue;
      }
      ++it;
    }
  }

  void SendTo(uint64_t conn, std::string text) {
    if (auto it = conns_.find(conn); it != conns_.end()) it->second->Send(std::move(text));
  }

  // Connection ids are unique in the hub: a handed-over connection keeps its
  // id on the shard it was handed to.
  uint64_t NewConnId() { return next_conn_++ * nshards_ + index_; }

  // A browser connection that lives on another shard (`home`, which owns the
  // WebSocket): replies are posted there.
  class RemoteBrowser : public Browser {
   public:
    RemoteBrowser(Shard* home, uint64_t id) : home_(home), id_(id) {}
    void Send(std::string text) override {
      asio::post(home_->io_, [h = home_, id = id_, t = std::move(text)]() mutable {
        h->SendTo(id, std::move(t));
      });
    }
    void Close() override {}
    void Abort() override {}
    bool Local() const override { return false; }

   private:
    Shard* home_;
    uint64_t id_;
  };

  // A resume for a session this shard's Router does not hold.
  void ResumeElsewhere(uint64_t conn, const proto::Message& m) {
    auto it = conns_.find(conn);
    if (it == conns_.end()) return;
    Browser& b = *it->second;
    const std::string& session = m.resume().session();
    const auto where = session.empty() ? std::nullopt : directory_->Find(session);
    if (!where || *where == index_ || *where >= hub_->shards_.size()) {
      b.Send(router_.GoneJson(m.id(), session));
      return;
    }
    if (!b.Local() || router_.Busy(conn)) {  // its sessions live here (or on a third shard)
      b.Send(Router::ErrorJson(m.id(), proto::Error::BAD_REQUEST,
                               "resume that session first thing on a new connection (this one "
                               "already has other sessions)"));
      return;
    }
    // From now on this WebSocket speaks to the session's shard.
    Shard* there = hub_->shards_[*where].get();
    b.handed_to = static_cast<int>(*where);
    spdlog::info("browser {} handed over to shard {} to resume session {}", conn, *where, session);
    asio::post(there->io_, [there, home = this, conn, text = Router::ToJson(m)] {
      there->conns_[conn] = std::make_shared<RemoteBrowser>(home, conn);
      there->FromRemote(conn, text);
    });
  }

  // A message of a WebSocket handed over to this shard.
  void FromRemote(uint64_t conn, const std::string& text) {
    if (!conns_.count(conn)) return;
    std::vector<Out> outs;
    router_.OnBrowserText(conn, text, &outs);
    Dispatch(outs);
  }

  void BrowserClosed(uint64_t conn) {
    std::vector<Out> outs;
    router_.OnBrowserClosed(conn, &outs);
    Dispatch(outs);
    conns_.erase(conn);
  }

  asio::awaitable<void> ExpireLoop() {
    asio::steady_timer tick(io_);
    std::vector<Out> outs;
    for (;;) {
      tick.expires_after(std::chrono::milliseconds(250));
      boost::system::error_code ec;
      co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      outs.clear();
      router_.ExpireDetached(Router::Clock::now(), &outs);
      Dispatch(outs);
    }
  }

  void KeepBlob(proto::Blob&& b) {
    if (store_) {
      store::Blob row{b.sha1(), b.mime(), b.data()};
      store_->PutBlob(std::move(row), [sha1 = b.sha1()](store::Result<void> r) {
        if (!r) spdlog::warn("blob {} not saved in the database: {}", sha1, r.error());
      });
    }
    if (!blobs_->Put(std::move(*b.mutable_sha1()), std::move(*b.mutable_mime()),
                     std::move(*b.mutable_data()))) {
      spdlog::warn("a compute server sent a blob whose name is not its SHA-1; dropped");
    }
  }

  // share and getShared: permalinks in the database.
  void HandleStore(uint64_t conn, proto::Message m) {
    const uint64_t bid = m.id();
    if (!store_) {
      SendTo(conn, Router::ErrorJson(bid, proto::Error::UNAVAILABLE,
                                     "sharing needs a database: start the hub with --db"));
      return;
    }
    if (m.has_share()) {
      proto::Share& sh = *m.mutable_share();
      std::string lang = sh.language().empty() ? "sage" : sh.language();
      store_->CreatePermalink(
          std::move(*sh.mutable_code()), std::move(lang), std::move(*sh.mutable_interact_state()),
          [this, conn, bid](store::Result<std::string> r) {
            if (!r) {
              spdlog::error("share failed: {}", r.error());
              SendTo(conn, Router::ErrorJson(bid, proto::Error::INTERNAL,
                                             "could not store the shared cell: " + r.error()));
              return;
            }
            proto::Message a;
            a.set_id(bid);
            a.mutable_shared()->set_id(*r);
            SendTo(conn, Router::ToJson(a));
          });
      return;
    }
    const std::string id = m.get_shared().id();
    if (!ValidPermalinkId(id)) {
      SendTo(conn, Router::ErrorJson(bid, proto::Error::BAD_REQUEST, "malformed shared id"));
      return;
    }
    store_->GetPermalink(id, [this, conn, bid, id](store::Result<std::optional<store::Permalink>> r) {
      if (!r) {
        SendTo(conn, Router::ErrorJson(bid, proto::Error::INTERNAL,
                                       "could not read the shared cell: " + r.error()));
        return;
      }
      if (!*r) {
        SendTo(conn, Router::ErrorJson(bid, proto::Error::NOT_FOUND, "no shared cell '" + id + "'"));
        return;
      }
      proto::Message a;
      a.set_id(bid);
      auto* sh = a.mutable_shared();
      sh->set_id((*r)->id);
      sh->set_code((*r)->code);
      sh->set_language((*r)->language);
      sh->set_interact_state((*r)->interact_state);
      SendTo(conn, Router::ToJson(a));
    });
  }

  // GET /blobs/<sha1>[?name=file.ext]
  asio::awaitable<http::response<http::string_body>> ServeBlob(
      const http::request<http::string_body>& req) {
    const std::string_view target(req.target().data(), req.target().size());
    std::string name(target.substr(7, target.find('?') == std::string_view::npos
                                          ? std::string_view::npos
                                          : target.find('?') - 7));
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      co_return TextResponse(req, http::status::method_not_allowed, "only GET and HEAD");
    }
    if (!core::IsSha1Hex(name)) {
      co_return TextResponse(req, http::status::bad_request,
                             "malformed blob name: expected 40 lowercase hex digits (a SHA-1)");
    }
    auto blob = blobs_->Get(name);
    if (!blob && store_) {
      auto r = co_await store::AwaitStore<std::optional<store::Blob>>(
          [&](auto cb) { store_->GetBlob(name, std::move(cb)); });
      if (r && *r) {
        blobs_->Put((*r)->sha1, (*r)->mime, (*r)->data);
        blob = std::make_shared<const BlobStore::Blob>(
            BlobStore::Blob{(*r)->sha1, (*r)->mime, std::move((*r)->data)});
      } else if (!r) {
        spdlog::warn("blob {}: database lookup failed: {}", name, r.error());
      }
    }
    if (!blob) co_return TextResponse(req, http::status::not_found, "no such blob");
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "salvus");
    const std::string type = BlobContentType(blob->mime);
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "public, max-age=31536000, immutable");
    res.set(http::field::etag, "\"" + blob->sha1 + "\"");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    res.set("Cross-Origin-Resource-Policy", "cross-origin");
    if (type == "application/octet-stream") {
      res.set(http::field::content_disposition,
              "attachment; filename=\"" + DownloadName(target) + "\"");
    }
    res.keep_alive(req.keep_alive());
    if (req.method() == http::verb::get) res.body() = blob->data;
    res.prepare_payload();
    co_return res;
  }

  asio::awaitable<void> AcceptLoop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket sock = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!acceptor_.is_open()) co_return;
        continue;
      }
      if (hub_->connections_.fetch_add(1, std::memory_order_relaxed) >= opt_.max_connections) {
        hub_->connections_.fetch_sub(1, std::memory_order_relaxed);
        RefuseFull(std::move(sock));
        continue;
      }
      ConnSlot slot(&hub_->connections_);
      sock.set_option(tcp::no_delay(true), ec);
      if (tls_) {
        asio::co_spawn(io_, TlsSession(beast::tcp_stream(std::move(sock)), std::move(slot)),
                       asio::detached);
      } else {
        asio::co_spawn(io_, HttpSession(beast::tcp_stream(std::move(sock)), std::move(slot)),
                       asio::detached);
      }
    }
  }

  // Past --max-connections: a plain-text 503 (a TLS client just sees the
  // connection close), sent without waiting; the socket closes at once.
  void RefuseFull(tcp::socket sock) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_full_warning_ > std::chrono::seconds(1)) {
      last_full_warning_ = now;
      spdlog::warn("connection limit ({}) reached: refusing new connections",
                   opt_.max_connections);
    }
    if (!tls_) {
      const std::string text = "the hub is at its connection limit (" +
                               std::to_string(opt_.max_connections) + "); try again later\n";
      const std::string res = "HTTP/1.1 503 Service Unavailable\r\nServer: salvus\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\n"
                              "Connection: close\r\nContent-Length: " +
                              std::to_string(text.size()) + "\r\n\r\n" + text;
      boost::system::error_code ec;
      sock.non_blocking(true, ec);
      (void)sock.write_some(asio::buffer(res), ec);  // fits a fresh socket's buffer
      sock.shutdown(tcp::socket::shutdown_both, ec);
    }
    boost::system::error_code ec;
    sock.close(ec);
  }

  asio::awaitable<void> TlsSession(beast::tcp_stream tcp, ConnSlot slot) {
    TlsStream stream(std::move(tcp), *tls_);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    boost::system::error_code ec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await HttpSession(std::move(stream), std::move(slot));
  }

  template <class Stream>
  asio::awaitable<void> HttpSession(Stream stream, ConnSlot slot) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
      boost::system::error_code ec;
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      auto req = parser.release();
      if (websocket::is_upgrade(req)) {
        if (req.target() != "/ws") co_return;
        if (!OriginAllowed(req, opt_.allow_origins)) {
          auto origin = req[http::field::origin];
          spdlog::warn("refused a WebSocket from origin {}", std::string(origin));
          auto res = TextResponse(req, http::status::forbidden,
                                  "this hub does not accept pages from " + std::string(origin));
          res.keep_alive(false);
          co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
          co_return;
        }
        beast::get_lowest_layer(stream).expires_never();
        // Messages queued for the browser in one loop turn leave in one write.
        co_await WebSocketSession(
            websocket::stream<CoalescingStream<Stream>>(std::move(stream)), std::move(req));
        co_return;
      }
      http::response<http::string_body> res;
      if (req.target() == "/healthz") {
        res.result(http::status::ok);
        res.version(req.version());
        res.set(http::field::content_type, "text/plain");
        res.body() = "ok\n";
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
      } else if (req.target().starts_with("/blobs/")) {
        res = co_await ServeBlob(req);
      } else {
        res = ServeStatic(opt_.web_root, req);
      }
      const bool keep = res.keep_alive();
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !keep) {
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
        co_return;
      }
    }
  }

  template <class Stream>
  asio::awaitable<void> WebSocketSession(websocket::stream<Stream> ws,
                                         http::request<http::string_body> req) {
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.read_message_max(opt_.max_message);
    boost::system::error_code ec;
    co_await ws.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    auto conn = std::make_shared<WsConn<Stream>>(std::move(ws), NewConnId());
    conns_[conn->id()] = conn;
    asio::co_spawn(io_, conn->WriteLoop(), asio::detached);
    beast::flat_buffer buffer;
    std::vector<Out> outs;
    const double rate = opt_.max_message_rate;
    TokenBucket bucket(rate, rate);
    // When it was last told it is over the rate: at most once in 10 s.
    std::optional<std::chrono::steady_clock::time_point> told;
    asio::steady_timer pause(io_);
    for (;;) {
      buffer.clear();
      co_await conn->ws().async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      outs.clear();
      const auto now = std::chrono::steady_clock::now();
      if (auto wait = bucket.Take(now); wait.count() > 0) {
        if (!told || now - *told > std::chrono::seconds(10)) {
          told = now;
          spdlog::warn("browser {}: over {} messages/s; slowing it down", conn->id(), rate);
          conn->Send(Router::ErrorJson(
              0, proto::Error::RATE_LIMITED,
              fmt::format("too many messages: this connection may send {} per second; the "
                          "hub now handles them at that pace (none is dropped)",
                          rate)));
        }
        pause.expires_after(wait);
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      if (!conn->ws().got_text()) {
        conn->Send(Router::ErrorJson(0, proto::Error::BAD_REQUEST,
                                     "binary messages are not accepted; send JSON text"));
        continue;
      }
      const auto data = buffer.cdata();
      const std::string_view text(static_cast<const char*>(data.data()), data.size());
      if (conn->handed_to >= 0) {
        Shard* there = hub_->shards_[conn->handed_to].get();
        asio::post(there->io_, [there, id = conn->id(), t = std::string(text)] {
          there->FromRemote(id, t);
        });
        continue;
      }
      router_.OnBrowserText(conn->id(), text, &outs);
      Dispatch(outs);
    }
    if (ec == websocket::error::message_too_big) {
      spdlog::warn("browser {}: message over {} bytes; closed", conn->id(), opt_.max_message);
    }
    if (conn->handed_to >= 0) {
      Shard* there = hub_->shards_[conn->handed_to].get();
      asio::post(there->io_, [there, id = conn->id()] { there->BrowserClosed(id); });
      conn->Close();
      conns_.erase(conn->id());
    } else {
      conn->Close();
      BrowserClosed(conn->id());
    }
  }

  const HubOptions& opt_;
  Hub* hub_;
  unsigned index_;
  unsigned nshards_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  Router router_;
  std::vector<std::unique_ptr<ComputeLink>> links_;
  std::unordered_map<uint64_t, std::shared_ptr<Browser>> conns_;
  std::atomic<int> links_up_{0};  // --compute links up (read by WaitForCompute)
  std::unordered_map<std::string, size_t> link_index_;  // "host:port" -> live link
  std::chrono::steady_clock::time_point last_full_warning_{};
  asio::ssl::context* tls_;
  BlobStore* blobs_;
  SessionDirectory* directory_;
  std::unique_ptr<store::Store> store_;  // null without --db
  uint64_t next_conn_ = 1;
  std::thread thread_;
};

Hub::Hub(HubOptions options) : opt_(std::move(options)) {}

Hub::~Hub() { Stop(); }

uint16_t Hub::Start() {
  // Every connection is a descriptor: allow as many as the hard limit does.
  if (rlimit nofile; getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  // Past that limit accept() would fail: refuse with 503 a little before it
  // (256 descriptors left for the database, compute links, files).
  if (rlimit nofile; getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
      nofile.rlim_cur < opt_.max_connections + 256) {
    const size_t fit = nofile.rlim_cur > 512 ? nofile.rlim_cur - 256 : nofile.rlim_cur / 2;
    spdlog::log(fit < 1000 ? spdlog::level::warn : spdlog::level::info,
                "holding at most {} connections (open files are limited to {})", fit,
                nofile.rlim_cur);
    opt_.max_connections = fit;
  }
  if (!opt_.tls_cert.empty()) tls_.emplace(core::MakeServerTlsContext(opt_.tls_cert, opt_.tls_key));
  blobs_ = std::make_unique<BlobStore>(opt_.blob_cache_bytes);
  directory_ = std::make_unique<SessionDirectory>();
  if (!opt_.db.empty()) {
    // Migrate once, before any shard opens its own connection.
    asio::io_context io;
    store::Options so;
    so.prune_interval_s = 0;
    auto st = store::OpenStore(opt_.db, io.get_executor(), so);
    if (!st) throw std::runtime_error("cannot open the database " + opt_.db + ": " + st.error());
    store::Result<int> version = std::unexpected("no answer");
    (*st)->Migrate([&](store::Result<int> r) { version = std::move(r); });
    io.run();
    if (!version) throw std::runtime_error("cannot migrate the database: " + version.error());
    spdlog::info("database {} ({}), schema version {}", opt_.db, (*st)->backend(), *version);
  }
  unsigned n = opt_.threads ? opt_.threads : std::max(1u, std::thread::hardware_concurrency());
  uint16_t port = opt_.listen.port;
  for (unsigned i = 0; i < n; ++i) {
    auto shard = std::make_unique<Shard>(opt_, this, i, n, tls_ ? &*tls_ : nullptr, blobs_.get(),
                                         directory_.get());
    port = shard->Bind(port);
    shards_.push_back(std::move(shard));
  }
  for (auto& s : shards_) s->Run();
  if (!opt_.db.empty()) {
    ComputeDiscovery::Options d{opt_.db, opt_.memcached, opt_.discover_interval, opt_.stale_after};
    discovery_ = std::make_unique<ComputeDiscovery>(d, [this](std::vector<ComputeReport> r) {
      for (auto& s : shards_) s->PostComputeReports(r);
    });
    if (auto ok = discovery_->Start(); !ok) {
      Stop();
      throw std::runtime_error(ok.error());
    }
  }
  return port;
}

bool Hub::WaitForCompute(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (auto& s : shards_) all = all && s->AllLinksUp();
    if (all) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Hub::Stop() {
  if (discovery_) discovery_->Stop();  // it posts to the shards
  discovery_.reset();
  for (auto& s : shards_) s->Stop();
  shards_.clear();
}

}  // namespace salvus::hub
