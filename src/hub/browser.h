// What a shard needs of a browser connection, whatever its transport: a
// WebSocket it serves (ws_session.cc), or one served by another shard that
// handed its messages over (shard.cc).
//
// Not thread-safe: used on its shard's event loop only.
#pragma once

#include <cstdint>
#include <string>

namespace salvus::hub {

class Browser {
 public:
  explicit Browser(uint64_t id) : id_(id) {}
  virtual ~Browser() = default;
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  // Unique in the hub: a handed-over connection keeps its id.
  uint64_t id() const { return id_; }
  virtual void Send(std::string text) = 0;
  virtual void Close() = 0;
  virtual void Abort() = 0;  // closes the socket now
  virtual bool Local() const { return true; }
  // The message it just sent costs a token of its rate (rate_limit.h):
  // every message does but one sent to a compute server while the
  // connection had no request in flight (Router::OnBrowserText).
  virtual void Charge() = 0;

  // A local WebSocket handed over to another shard (to resume a session held
  // there): its messages go to that shard's Router. -1: not handed over.
  int handed_to = -1;
  // The client's IP address ("" when unknown): sessions are capped per address.
  std::string address;
  // It misbehaved (a message over the size limit): its sessions end with
  // it rather than wait for a resume.
  bool end_sessions = false;
  // The shard was told it is gone (Shard::OnBrowserGone, once).
  bool gone = false;

 private:
  const uint64_t id_;
};

}  // namespace salvus::hub
