#include "hub/shard.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <set>
#include <stdexcept>
#include <utility>

#include "core/descriptors.h"
#include "core/log.h"
#include "core/overloaded.h"
#include "core/spawn.h"
#include "hub/blob_store.h"
#include "hub/connection.h"
#include "hub/session_directory.h"
#include "store/store.h"
#include "vault/link.h"

namespace salvus::hub {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// The shard's own Store connection (null without --db); one shard prunes
// the capped tables and expires old blobs.
std::unique_ptr<store::Store> OpenShardStore(const HubOptions& opt, unsigned index,
                                             asio::io_context& io) {
  if (opt.db.empty()) return nullptr;
  store::Options so;
  so.prune_interval_s = index == 0 ? static_cast<int>(opt.store_prune_interval.count()) : 0;
  so.blob_max_age_s = opt.blob_max_age.count();
  auto st = store::OpenStore(opt.db, io.get_executor(), so);
  if (!st) throw std::runtime_error("cannot open the database: " + st.error());
  return std::move(*st);
}

// The shard's link to the vault (null without --vault).
std::unique_ptr<vault::VaultLink> OpenVaultLink(const HubOptions& opt, unsigned index,
                                                asio::io_context& io) {
  if (opt.vault.host.empty()) return nullptr;
  vault::VaultLinkOptions vo;
  vo.address = opt.vault;
  vo.token = opt.token;
  vo.client = "hub shard " + std::to_string(index);
  vo.tls = !opt.vault_tls_ca.empty();
  vo.tls_options.ca_file = opt.vault_tls_ca;
  vo.timeout = std::chrono::seconds(5);
  return std::make_unique<vault::VaultLink>(io.get_executor(), vo);
}

AccountApiOptions AccountOptions(const HubOptions& opt) {
  AccountApiOptions o;
  o.secure_cookie = opt.public_origin.starts_with("https://") ||
                    (opt.public_origin.empty() && !opt.tls_cert.empty());
  o.session_max_age = opt.account_session_max_age;
  return o;
}

}  // namespace

// A browser connection that lives on another shard (`home`, which owns the
// WebSocket): replies are posted there.
class Shard::RemoteBrowser : public Browser {
 public:
  RemoteBrowser(Shard* home, uint64_t id) : Browser(id), home_(home) {}
  void Send(std::string text) override {
    asio::post(home_->io_, [h = home_, id = id(), t = std::move(text)]() mutable {
      h->SendTo(id, std::move(t));
    });
  }
  void Close() override {}
  void Abort() override {}
  void Charge() override {
    asio::post(home_->io_, [h = home_, id = id()] { h->ChargeBrowser(id); });
  }
  bool Local() const override { return false; }

 private:
  Shard* home_;
};

Shard::Shard(ShardContext context, unsigned index, unsigned shards)
    : ctx_(context),
      opt_(*context.options),
      index_(index),
      nshards_(shards),
      acceptor_(io_),
      router_(opt_.compute.size(),
              RouterOptions{.max_code = opt_.max_code,
                            .max_share = opt_.max_share,
                            .grace = opt_.reconnect_grace,
                            .max_buffer = opt_.max_detached_output,
                            .full_for = opt_.compute_full_for,
                            .max_limits = opt_.max_session_limits,
                            .max_sessions_per_connection = opt_.max_sessions_per_connection}),
      store_(OpenShardStore(opt_, index, io_)),
      http_(opt_.web_root, ctx_.blobs, store_.get(),
            [this] {
              AdminOptions admin;
              admin.token = opt_.token;
              admin.stale_after = opt_.stale_after;
              admin.tls = !opt_.tls_cert.empty();
              return admin;
            }()),
      permalinks_(store_.get()),
      vault_(OpenVaultLink(opt_, index, io_)),
      accounts_(store_.get(), vault_.get(), ctx_.accounts, AccountOptions(opt_)) {
  for (size_t i = 0; i < opt_.compute.size(); ++i) NewLink(opt_.compute[i]);
  router_.SetAddressQuota(ctx_.sessions_per_address, static_cast<int>(index_));
  router_.SetSessionObserver([this](const std::string& session, bool here) {
    if (here) {
      ctx_.directory->Put(session, index_);
    } else {
      ctx_.directory->Erase(session, index_);
    }
  });
}

// What is left on the event loop (suspended coroutines) is destroyed with
// io_, after the other members: cleanup run then must not touch them.
Shard::~Shard() { alive_.reset(); }

void Shard::PostComputeReports(std::vector<ComputeReport> reports) {
  asio::post(io_, [this, r = std::move(reports)] { OnComputeReports(r); });
}

uint16_t Shard::Bind(uint16_t port) {
  tcp::endpoint ep(asio::ip::make_address(opt_.listen.host), port);
  acceptor_.open(ep.protocol());
  core::SetCloseOnExec(acceptor_.native_handle());  // asio does not
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  int one = 1;
  setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  return acceptor_.local_endpoint().port();
}

void Shard::Run() {
  for (auto& l : links_) l->Start();
  core::Spawn(io_, AcceptLoop(), "hub accept loop");
  if (opt_.reconnect_grace.count() > 0) core::Spawn(io_, ExpireLoop(), "hub expiry loop");
  if (index_ == 0 && opt_.trim_after_closed > 0) core::Spawn(io_, TrimLoop(), "hub trim loop");
  thread_ = std::thread([this] { io_.run(); });
}

void Shard::Stop() {
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& l : links_) l->Stop();
    if (vault_) vault_->Close();
    for (auto& [id, c] : conns_) c->Abort();
    io_.stop();
  });
  if (thread_.joinable()) thread_.join();
}

void Shard::Dispatch(std::vector<Out>& outs) {
  for (Out& o : outs) {
    std::visit(
        core::Overloaded{
            [&](ToBrowser& b) { SendTo(b.conn, std::move(b.text)); },
            // The Router only routes to links that are up; a link that goes
            // down tells the Router (OnComputeLost), which answers what waits.
            [&](ToCompute& c) { links_[c.link]->Send(c.msg); },
            [&](ToStore& s) {
              permalinks_.Handle(std::move(s.msg), [this, conn = s.conn](std::string json) {
                SendTo(conn, std::move(json));
              });
            },
            [&](KeepBlob& b) { StoreBlob(std::move(b.blob)); },
            [&](ResumeElsewhere& r) { HandOverResume(r.conn, r.msg); },
            [&](SessionDetached& d) {
              spdlog::info("session {} detached: its page has {} s to reconnect",
                           core::LogId(d.session), opt_.reconnect_grace.count() / 1000);
            },
            [&](SessionResumed& r) {
              spdlog::info("session {} resumed by browser {}", core::LogId(r.session), r.conn);
            },
            [&](DetachedSessionEnded& e) {
              spdlog::info("detached session {} ended: {}", core::LogId(e.session), e.reason);
            },
            [&](EvictElsewhere& e) {
              if (e.owner < 0 || static_cast<size_t>(e.owner) >= ctx_.shards->size()) return;
              Shard* there = (*ctx_.shards)[e.owner].get();
              asio::post(there->io_, [there, s = std::move(e.session)] {
                std::vector<Out> outs;
                there->router_.EvictDetached(s, &outs);
                there->Dispatch(outs);
              });
            },
        },
        o);
  }
}

// A link to the compute server at `where`, index links_.size() (the
// Router's index too). The --compute ones come first.
size_t Shard::NewLink(const core::HostPort& where) {
  const size_t i = links_.size();
  if (i >= router_.links()) router_.AddLink();  // the --compute ones it has
  const bool configured = i < opt_.compute.size();
  LinkOptions lo{where, opt_.token, opt_.compute_tls, opt_.compute_tls_ca,
                 opt_.compute_tls_insecure};
  links_.push_back(std::make_unique<ComputeLink>(
      io_, lo,
      ComputeLink::Handlers{[this, i, configured] {
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

void Shard::OnComputeReports(const std::vector<ComputeReport>& reports) {
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
      router_.SetLinkReport(
          i, {r.time_ms, r.stats.sessions(), r.stats.max_sessions(), r.stats.cpus(), r.load1});
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

void Shard::SendTo(uint64_t conn, std::string text) {
  if (auto it = conns_.find(conn); it != conns_.end()) it->second->Send(std::move(text));
}

void Shard::AddBrowser(std::shared_ptr<Browser> browser) {
  const uint64_t id = browser->id();
  router_.SetConnAddress(id, browser->address);
  conns_[id] = std::move(browser);
}

void Shard::OnBrowserText(Browser& b, std::string_view text, std::vector<Out>* outs) {
  if (b.handed_to >= 0) {
    Shard* there = (*ctx_.shards)[b.handed_to].get();
    asio::post(there->io_,
               [there, id = b.id(), t = std::string(text)] { there->FromRemote(id, t); });
    return;
  }
  outs->clear();
  const bool free = router_.OnBrowserText(b.id(), text, outs);
  Dispatch(*outs);
  if (!free) b.Charge();
}

void Shard::OnBrowserGone(Browser& b) {
  if (b.gone) return;
  b.gone = true;
  const uint64_t id = b.id();
  b.Close();
  if (b.handed_to >= 0) {
    Shard* there = (*ctx_.shards)[b.handed_to].get();
    asio::post(there->io_, [there, id, keep = !b.end_sessions] { there->BrowserClosed(id, keep); });
    BrowserClosed(id, true);  // nothing of it is here but its address
  } else {
    BrowserClosed(id, !b.end_sessions);
  }
}

void Shard::OnBrowserBacklog(uint64_t conn, bool backed_up) {
  // Posted: it comes from inside a Send, maybe within a Dispatch.
  asio::post(io_, [this, conn, backed_up] {
    auto it = conns_.find(conn);
    if (it == conns_.end()) return;
    const int to = it->second->handed_to;
    if (to < 0) {
      SetConnBackedUp(conn, backed_up);
      return;
    }
    Shard* there = (*ctx_.shards)[to].get();
    asio::post(there->io_, [there, conn, backed_up] { there->SetConnBackedUp(conn, backed_up); });
  });
}

void Shard::SetConnBackedUp(uint64_t conn, bool backed_up) {
  std::vector<Out> outs;
  router_.SetConnBackedUp(conn, backed_up, &outs);
  Dispatch(outs);
}

// A resume for a session this shard's Router does not hold.
void Shard::HandOverResume(uint64_t conn, const proto::Message& m) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  Browser& b = *it->second;
  const std::string& session = m.resume().session();
  const auto where = session.empty() ? std::nullopt : ctx_.directory->Find(session);
  if (!where || *where == index_ || *where >= ctx_.shards->size()) {
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
  Shard* there = (*ctx_.shards)[*where].get();
  b.handed_to = static_cast<int>(*where);
  spdlog::info("browser {} handed over to shard {} to resume session {}", conn, *where,
               core::LogId(session));
  asio::post(there->io_, [there, home = this, conn, address = b.address, text = Router::ToJson(m)] {
    there->conns_[conn] = std::make_shared<RemoteBrowser>(home, conn);
    there->router_.SetConnAddress(conn, address);
    there->FromRemote(conn, text, false);  // it paid here
  });
}

// A message of a WebSocket handed over to this shard.
void Shard::FromRemote(uint64_t conn, const std::string& text, bool charge) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  std::shared_ptr<Browser> b = it->second;
  std::vector<Out> outs;
  const bool free = router_.OnBrowserText(conn, text, &outs);
  Dispatch(outs);
  if (!free && charge) b->Charge();
}

void Shard::ChargeBrowser(uint64_t conn) {
  if (auto it = conns_.find(conn); it != conns_.end()) it->second->Charge();
}

void Shard::BrowserClosed(uint64_t conn, bool keep_sessions) {
  std::vector<Out> outs;
  router_.OnBrowserClosed(conn, &outs, Router::Clock::now(), keep_sessions);
  Dispatch(outs);
  conns_.erase(conn);
}

asio::awaitable<void> Shard::ExpireLoop() {
  asio::steady_timer tick(io_);
  std::vector<Out> outs;
  for (;;) {
    tick.expires_after(opt_.expire_tick);
    boost::system::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    outs.clear();
    router_.ExpireDetached(Router::Clock::now(), &outs);
    Dispatch(outs);
  }
}

// After a flood of connections (or any crowd) leaves, what they used is
// free but stays in the process (glibc keeps freed memory in its per-thread
// arenas): once the count fell by trim_after_closed since its last peak,
// it is handed back. malloc_trim walks every arena; it takes milliseconds.
asio::awaitable<void> Shard::TrimLoop() {
  asio::steady_timer tick(io_);
  for (;;) {
    tick.expires_after(opt_.trim_interval);
    boost::system::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const size_t now = ctx_.connections->load(std::memory_order_relaxed);
    const size_t peak = ctx_.connections_peak->load(std::memory_order_relaxed);
    if (peak < now + opt_.trim_after_closed) continue;
    ctx_.connections_peak->store(now, std::memory_order_relaxed);
    malloc_trim(0);
    spdlog::info("{} connections closed since the last peak: memory handed back to the system",
                 peak - now);
  }
}

void Shard::StoreBlob(proto::Blob&& b) {
  if (store_) {
    store::Blob row{b.sha1(), b.mime(), b.data()};
    store_->PutBlob(std::move(row), [sha1 = b.sha1()](store::Result<void> r) {
      if (!r) spdlog::warn("blob {} not saved in the database: {}", sha1, r.error());
    });
  }
  if (!ctx_.blobs->Put(std::move(*b.mutable_sha1()), std::move(*b.mutable_mime()),
                       std::move(*b.mutable_data()))) {
    spdlog::warn("a compute server sent a blob whose name is not its SHA-1; dropped");
  }
}

}  // namespace salvus::hub
