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
#include <vector>

#include "hub/placement.h"
#include "proto/salvus.pb.h"

namespace salvus::hub {

// Something the caller must do after a Router call.
struct Out {
  enum Kind {
    kToBrowser,  // send `text` to browser `conn`
    kToCompute,  // send `msg` to compute link `link`
    kToStore,    // `msg` (share, getShared) from `conn` needs the database;
                 // answer with Shared or an error under msg.id()
    kBlob,       // keep `msg.blob()` for /blobs/<sha1>
    kResumeElsewhere,  // `msg` (resume from `conn`) names a session this Router
                       // does not hold: another shard may (else: NOT_FOUND)
    kDetached,   // session `text` is now detached here (resumable)
    kUndetached, // session `text` is no longer detached here: resumed, or
                 // ended (then `msg` is a SessionEnded saying why)
  } kind;
  uint64_t conn = 0;   // browser connection
  size_t link = 0;     // compute link index (kToCompute)
  std::string text;    // JSON text for the browser
  proto::Message msg;
};

class Router {
 public:
  using Clock = std::chrono::steady_clock;

  // `links`: number of compute servers; `max_code`: largest code accepted;
  // `max_share`: largest code (+ interact state) a permalink may hold;
  // `grace`: how long a closed browser's sessions wait for a resume (0: they
  // end at once); `max_buffer`: output kept per detached session.
  Router(size_t links, size_t max_code, size_t max_share = 64 * 1024,
         std::chrono::milliseconds grace = std::chrono::seconds(120),
         size_t max_buffer = 1 << 20);

  // The session a session-scoped request names ("" for others).
  static std::string SessionOf(const proto::Message& m);

  void OnBrowserText(uint64_t conn, std::string_view text, std::vector<Out>* out);
  // Detaches the connection's sessions until now + grace.
  void OnBrowserClosed(uint64_t conn, std::vector<Out>* out, Clock::time_point now = Clock::now());
  // Ends the detached sessions whose grace period is over at `now`.
  void ExpireDetached(Clock::time_point now, std::vector<Out>* out);
  void OnComputeMessage(size_t link, const proto::Message& m, std::vector<Out>* out);
  // The link is down (or came up): sessions on it are gone.
  void OnComputeLost(size_t link, const std::string& why, std::vector<Out>* out);
  void SetLinkUp(size_t link, bool up);

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
  };
  // Sends a start to the emptiest link not yet tried (false: none left).
  bool PlaceStart(uint64_t conn, uint64_t browser_id, std::shared_ptr<proto::StartSession> start,
                  std::vector<size_t> tried, std::vector<Out>* out);
  struct Session {
    uint64_t conn;  // 0: detached
    size_t link;
    proto::Limits limits;  // from SessionStarted, repeated to a resume
    // While detached:
    Clock::time_point deadline{};
    std::deque<std::string> buffer;  // JSON replies in order
    size_t buffered = 0;             // bytes in `buffer`
    std::map<uint64_t, size_t> lost;  // browser id -> output bytes dropped
  };
  void Reply(uint64_t conn, const std::string& text, std::vector<Out>* out);
  void Forward(uint64_t conn, uint64_t browser_id, size_t link, const std::string& session,
               proto::Message&& m, std::vector<Out>* out);
  void EndSession(const std::string& session, const std::string& why, std::vector<Out>* out);
  void Resume(uint64_t conn, uint64_t bid, proto::Message&& m, std::vector<Out>* out);
  // Keeps a reply for a detached session (dropping output past max_buffer_).
  void Buffer(Session& s, const std::string& session, const proto::Message& m);
  static std::string LostNotice(const std::string& session, uint64_t bid, size_t bytes);
  void Terminate(const std::string& session, size_t link, uint64_t conn, std::vector<Out>* out);
  // Erases a session, telling the observer.
  void Forget(std::unordered_map<std::string, Session>::iterator it);

  size_t max_code_;
  size_t max_share_;
  std::chrono::milliseconds grace_;
  size_t max_buffer_;
  size_t detached_ = 0;
  uint64_t next_id_ = 1;
  std::function<void(const std::string&, bool)> observer_;
  std::vector<LinkLoad> links_;
  std::vector<Clock::time_point> full_since_;  // when each link last refused a start as full
  std::unordered_map<uint64_t, Pending> pending_;         // hub id -> who asked
  std::unordered_map<std::string, Session> owner_;        // session -> its browser and link
  std::unordered_map<uint64_t, std::set<std::string>> sessions_of_;  // browser -> sessions
};

}  // namespace salvus::hub
