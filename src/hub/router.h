// The hub's message handling, without sockets: browsers speak the proto3
// JSON mapping of salvus.proto over WebSocket; compute servers speak framed
// protobuf. The Router checks each browser message, gives it a hub-wide
// request id, sends it to the compute server that holds (or will hold) the
// session, and routes every reply back to the browser that asked, under the
// browser's own id.
//
// Not thread-safe: one Router per hub shard (event loop thread).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proto/salvus.pb.h"

namespace salvus::hub {

// Something the caller must do after a Router call.
struct Out {
  enum Kind { kToBrowser, kToCompute } kind;
  uint64_t conn = 0;   // browser connection (kToBrowser)
  size_t link = 0;     // compute link index (kToCompute)
  std::string text;    // JSON text for the browser
  proto::Message msg;  // message for the compute server
};

class Router {
 public:
  // `links`: number of compute servers; `max_code`: largest code accepted.
  Router(size_t links, size_t max_code);

  void OnBrowserText(uint64_t conn, std::string_view text, std::vector<Out>* out);
  void OnBrowserClosed(uint64_t conn, std::vector<Out>* out);
  void OnComputeMessage(size_t link, const proto::Message& m, std::vector<Out>* out);
  // The link is down (or came up): sessions on it are gone.
  void OnComputeLost(size_t link, const std::string& why, std::vector<Out>* out);
  void SetLinkUp(size_t link, bool up);

  size_t sessions() const { return owner_.size(); }
  size_t pending() const { return pending_.size(); }

  // JSON for a message to a browser (proto3 JSON mapping).
  static std::string ToJson(const proto::Message& m);
  static std::string ErrorJson(uint64_t id, proto::Error::Code code, const std::string& text);

 private:
  struct Pending {
    uint64_t conn;
    uint64_t browser_id;
    size_t link;
    proto::Message::BodyCase kind;
    std::string session;
  };
  struct Session {
    uint64_t conn;
    size_t link;
  };
  void Reply(uint64_t conn, const std::string& text, std::vector<Out>* out);
  void Forward(uint64_t conn, uint64_t browser_id, size_t link, const std::string& session,
               proto::Message&& m, std::vector<Out>* out);
  void EndSession(const std::string& session, const std::string& why, std::vector<Out>* out);

  size_t max_code_;
  uint64_t next_id_ = 1;
  std::vector<bool> link_up_;
  std::unordered_map<uint64_t, Pending> pending_;         // hub id -> who asked
  std::unordered_map<std::string, Session> owner_;        // session -> its browser and link
  std::unordered_map<uint64_t, std::set<std::string>> sessions_of_;  // browser -> sessions
};

}  // namespace salvus::hub
