// The compute server's private records of hub connections and sessions
// (workers: worker_record.h). Only the server's own files include this.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>

#include "core/conn.h"
#include "proto/salvus.pb.h"

namespace salvus::compute {

// One connected hub (a peer, not the hub program).
struct HubConn {
  std::shared_ptr<core::Conn> conn;
  bool authenticated = false;
  std::set<std::string> sessions;
  // Over ComputeOptions::hub_queue_high bytes queued to it: its sessions'
  // workers are not read until it is down to half of that.
  bool backed_up = false;
};

struct SessionRecord {
  using TimePoint = std::chrono::steady_clock::time_point;
  std::string id;
  std::weak_ptr<HubConn> owner;
  uint64_t wid = 0;  // 0 until a worker is assigned
  uint64_t start_id = 0;
  bool started = false;
  proto::Limits limits;
  std::deque<uint64_t> pending;    // Execute ids sent to the worker, in order
  std::deque<std::string> queued;  // Execute frames waiting for a worker
  // An interrupt of request pending[0] not yet sent: the session had no
  // worker (or its pid was not known) when it came.
  uint64_t interrupt_for = 0;
  size_t queued_bytes = 0;  // in `queued`
  bool paused = false;      // by its hub (Flow): its worker is not read
  TimePoint walltime_end;
  TimePoint start_deadline;  // while not started: give up then
  TimePoint idle_since;
  std::unique_ptr<boost::asio::steady_timer> deadline;
};

}  // namespace salvus::compute
