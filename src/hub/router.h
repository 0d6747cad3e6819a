// The hub's message handling, without sockets: browsers speak the proto3
// JSON mapping of salvus.proto over WebSocket; compute servers speak framed
// protobuf. The Router checks each browser message, gives it a hub-wide
// request id, sends it to the compute server that holds (or will hold) the
// session, and routes every reply back to the browser that asked, under the
// browser's own id.
//
// A browser connection that closes leaves its sessions detached for a grace
// period: their replies are buffered, and a `resume` from a new connection
// takes them back with what was produced meanwhile. ExpireDetached ends
// those whose grace period passed. A resume of a session still attached to
// another connection takes it over (that connection is presumably dead
// without the hub knowing yet: half-open TCP).
//
// Not thread-safe: one Router per hub shard (event loop thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/metrics.h"
#include "hub/address_quota.h"
#include "hub/placement.h"
#include "proto/salvus.pb.h"

namespace salvus::hub {

// What the caller must do after a Router call: one of the structs below,
// held in an `Out`. Callers visit it with one overload per alternative
// (std::visit with core::Overloaded), so a new alternative does not compile
// until every caller handles it.

// Send `text` (JSON) to browser connection `conn`.
struct ToBrowser {
  uint64_t conn = 0;
  std::string text;
};
// Send `msg` to compute link `link`.
struct ToCompute {
  size_t link = 0;
  proto::Message msg;
};
// `msg` (share or getShared) from `conn` needs the database: answer with
// Shared or an error under msg.id().
struct ToStore {
  uint64_t conn = 0;
  proto::Message msg;
};
// Keep `blob` for /blobs/<sha1>.
struct KeepBlob {
  proto::Blob blob;
};
// `msg`, a resume from `conn`, names a session this Router does not hold:
// another shard may (else: NOT_FOUND).
struct ResumeElsewhere {
  uint64_t conn = 0;
  proto::Message msg;
};
// `session` is now detached here (resumable).
struct SessionDetached {
  std::string session;
};
// Detached `session` was resumed by browser `conn`.
struct SessionResumed {
  uint64_t conn = 0;
  std::string session;
};
// Detached `session` ended here, for `reason`.
struct DetachedSessionEnded {
  std::string session;
  std::string reason;
};
// Detached `session`, held by the Router of `owner` (another shard's), gave
// its address slot to a new session: that Router must end it
// (Router::EvictDetached).
struct EvictElsewhere {
  int owner = 0;
  std::string session;
};

using Out = std::variant<ToBrowser, ToCompute, ToStore, KeepBlob, ResumeElsewhere, SessionDetached,
                         SessionResumed, DetachedSessionEnded, EvictElsewhere>;

struct RouterOptions {
  size_t max_code = 1 << 20;    // largest code (or interact values) accepted
  size_t max_share = 64 << 10;  // largest code + interact state a permalink may hold
  // How long a closed browser's sessions wait for a resume (0: they end at once).
  std::chrono::milliseconds grace = std::chrono::seconds(120);
  size_t max_buffer = 1 << 20;  // output kept per detached session
  // A compute server that refused a start as full gets no new start for this long.
  std::chrono::milliseconds full_for = std::chrono::seconds(5);
  // A browser message may exceed max_code by this much (its JSON envelope).
  size_t envelope = 4096;
  // Each limit a startSession asks for is lowered to this (a zero field: no
  // ceiling here); the compute server applies its own ceiling again.
  proto::Limits max_limits;
  // Sessions one connection may hold, started or starting (0: no limit);
  // past it a startSession gets RESOURCE_EXHAUSTED.
  size_t max_sessions_per_connection = 8;
};

class Router {
 public:
  using Clock = std::chrono::steady_clock;

  // `links`: number of compute servers (more may be added: AddLink).
  Router(size_t links, RouterOptions options);

  // The session a session-scoped request names ("" for others).
  static std::string SessionOf(const proto::Message& m);

  // True when the message went to a compute server while `conn` had no
  // other request in flight here: a client that waits for each answer
  // (such a message costs its connection no token of its rate; the rest do).
  bool OnBrowserText(uint64_t conn, std::string_view text, std::vector<Out>* out);
  // Detaches the connection's sessions until now + grace (`keep_sessions`
  // false, or no grace: they end now).
  void OnBrowserClosed(uint64_t conn, std::vector<Out>* out, Clock::time_point now = Clock::now(),
                       bool keep_sessions = true);
  // Ends the detached sessions whose grace period is over at `now`.
  void ExpireDetached(Clock::time_point now, std::vector<Out>* out);
  void OnComputeMessage(size_t link, const proto::Message& m, std::vector<Out>* out);
  // The link is down (or came up): sessions on it are gone.
  void OnComputeLost(size_t link, const std::string& why, std::vector<Out>* out);
  void SetLinkUp(size_t link, bool up);

  // Sessions per client address (shared by the hub's Routers; null: not
  // counted). A session counts against the address of the connection that
  // started it until it ends, detached or not; a start past the cap ends
  // the address's session detached longest ago instead, if any
  // (address_quota.h). `owner`: this Router's name in the quota (its shard).
  void SetAddressQuota(AddressQuota* quota, int owner = 0) {
    quota_ = quota;
    owner_tag_ = owner;
  }
  // Ends detached `session` whose slot a new start took (EvictElsewhere).
  void EvictDetached(const std::string& session, std::vector<Out>* out);

  // Browser `conn` is backed up (it does not read what it is sent) or no
  // longer: its sessions pause at their compute servers, or go on (proto
  // Flow). Detached sessions are never paused (their buffer is capped).
  void SetConnBackedUp(uint64_t conn, bool backed_up, std::vector<Out>* out);
  // The client address of browser `conn` (forgotten when it closes).
  void SetConnAddress(uint64_t conn, std::string address) {
    address_of_[conn] = std::move(address);
  }

  // Compute links learnt at run time (from the Store) are added here; the
  // index is the link's for good. A removed link is never used again.
  size_t AddLink();
  void RemoveLink(size_t link);
  size_t links() const { return links_.size(); }
  const LinkLoad& link(size_t i) const { return links_[i]; }
  // What the compute server's newest status row says (see placement.h).
  struct Report {
    int64_t time_ms = 0;
    uint32_t sessions = 0, max_sessions = 0, cpus = 0;
    double load1 = 0;
  };
  void SetLinkReport(size_t link, const Report& r);
  // Whether new sessions may go there.
  void SetLinkInRotation(size_t link, bool in);

  // Told of every session that starts here (true) and ends or leaves here
  // (false), e.g. to keep a directory of where sessions are.
  void SetSessionObserver(std::function<void(const std::string& session, bool here)> f) {
    observer_ = std::move(f);
  }

  size_t sessions() const { return owner_.size(); }
  size_t pending() const { return pending_.size(); }
  size_t detached() const { return detached_; }
  // Whether `conn` has sessions or requests in flight here.
  bool Busy(uint64_t conn) const;
  // Requests of `conn` waiting here for their last answer (done, error,
  // ack, sessionStarted).
  size_t InFlight(uint64_t conn) const;

  // The answer to a resume whose session nobody holds.
  std::string GoneJson(uint64_t id, const std::string& session) const;

  // JSON for a message to a browser (proto3 JSON mapping).
  static std::string ToJson(const proto::Message& m);
  static std::string ErrorJson(uint64_t id, proto::Error::Code code, const std::string& text);

 private:
  struct Pending {
    uint64_t conn;  // 0: its browser left (detached session, or an orphaned start)
    uint64_t browser_id;
    size_t link;
    proto::Message::BodyCase kind;
    std::string session;
    // A start, kept to try the next compute server if this one refuses.
    std::shared_ptr<proto::StartSession> start;
    std::vector<size_t> tried;
    std::string address;  // a start's: the client address whose slot it holds
    std::chrono::steady_clock::time_point since{};  // set by AddPending
  };
  using PendingMap = std::unordered_map<uint64_t, Pending>;
  struct KindMetrics {
    core::metrics::Counter& requests;
    core::metrics::Histogram& seconds;
  };
  KindMetrics& RequestMetrics(proto::Message::BodyCase kind);  // router_metrics.cc
  static void CountError(proto::Error::Code code);
  std::map<int, KindMetrics> kind_metrics_;
  // Every change to pending_ goes through these: they keep in_flight_.
  void AddPending(uint64_t id, Pending p);
  PendingMap::iterator ErasePending(PendingMap::iterator it);
  void SetPendingConn(Pending& p, uint64_t conn);
  // Sends a start to the emptiest link not yet tried (false: none left).
  bool PlaceStart(uint64_t conn, uint64_t browser_id, std::shared_ptr<proto::StartSession> start,
                  std::vector<size_t> tried, const std::string& address, std::vector<Out>* out);
  // A new start from `conn`: "" when it may go ahead (a slot of its address
  // taken into *address), else why not.
  // A detached session of the address may be evicted for it (into `out`).
  std::string TakeSessionSlot(uint64_t conn, std::string* address, std::vector<Out>* out);
  void GiveSessionSlot(const std::string& address);
  struct Session {
    uint64_t conn;  // 0: detached
    size_t link;
    proto::Limits limits;  // from SessionStarted, repeated to a resume
    std::string address;   // whose slot it holds (AddressQuota)
    bool paused = false;   // told its compute server so (Flow)
    // While detached:
    Clock::time_point deadline{};
    std::deque<std::string> buffer;   // JSON replies in order
    size_t buffered = 0;              // bytes in `buffer`
    std::map<uint64_t, size_t> lost;  // browser id -> output bytes dropped
  };
  // OnBrowserText's work.
  void Route(uint64_t conn, std::string_view text, std::vector<Out>* out);
  void Reply(uint64_t conn, const std::string& text, std::vector<Out>* out);
  void Forward(uint64_t conn, uint64_t browser_id, size_t link, const std::string& session,
               proto::Message&& m, std::vector<Out>* out);
  void EndSession(const std::string& session, const std::string& why, std::vector<Out>* out);
  void Resume(uint64_t conn, uint64_t bid, proto::Message&& m, std::vector<Out>* out);
  // Keeps a reply for a detached session (dropping output past max_buffer_).
  void Buffer(Session& s, const std::string& session, const proto::Message& m);
  static std::string LostNotice(const std::string& session, uint64_t bid, size_t bytes);
  void Terminate(const std::string& session, size_t link, std::vector<Out>* out);
  // Erases a session, telling the observer.
  void Forget(std::unordered_map<std::string, Session>::iterator it);
  // Ends a detached session now (its pending requests dropped, the
  // compute server told), for `why`.
  void EndDetached(std::unordered_map<std::string, Session>::iterator it, const std::string& why,
                   std::vector<Out>* out);
  // Tells the session's compute server to pause it, or go on (if it is not
  // so already).
  void SetPaused(const std::string& session, Session& s, bool paused, std::vector<Out>* out);

  const RouterOptions opt_;
  AddressQuota* quota_ = nullptr;
  int owner_tag_ = 0;
  std::set<uint64_t> backed_up_;  // browsers that do not read what they are sent
  std::unordered_map<uint64_t, std::string> address_of_;  // browser -> client address
  size_t detached_ = 0;
  uint64_t next_id_ = 1;
  std::function<void(const std::string&, bool)> observer_;
  std::vector<LinkLoad> links_;
  std::vector<Clock::time_point> full_since_;       // when each link last refused a start as full
  PendingMap pending_;                              // hub id -> who asked
  std::unordered_map<uint64_t, size_t> in_flight_;  // browser -> its entries in pending_
  std::unordered_map<std::string, Session> owner_;  // session -> its browser and link
  std::unordered_map<uint64_t, std::set<std::string>> sessions_of_;  // browser -> sessions
};

}  // namespace salvus::hub
