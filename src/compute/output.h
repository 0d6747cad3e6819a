// A worker's output path: everything the session writes (Python's
// sys.stdout/sys.stderr through Write, and C-level writes to fds 1 and 2 via
// pipes) becomes Output frames on the worker's socket.
//
// Frames are coalesced: pending output is sent at most kCoalesce after its
// first byte (or at once when kMaxPending bytes are pending), so a loop
// printing a line a second shows each line at once, while a loop printing
// 10,000 lines sends a handful of frames. Text leaves as valid UTF-8.
//
// The pump thread sleeps on a timer armed by the first pending byte; a short
// request ends (and flushes) before the timer fires, so it costs no thread
// wake-up at all.
//
// Thread-safety: Write, Flush and SendFrame may be called from the worker's
// main thread while the pump thread runs; one mutex orders all socket writes,
// so a frame sent after Flush follows every byte written before it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/utf8.h"
#include "proto/salvus.pb.h"

namespace salvus::compute {

class OutputChannel {
 public:
  static constexpr auto kCoalesce = std::chrono::milliseconds(4);
  static constexpr size_t kMaxPending = 64 * 1024;

  // `sock`: the worker's socket to the compute server (blocking).
  // `out_pipe`/`err_pipe`: read ends of the pipes now on fds 1 and 2, or -1.
  OutputChannel(int sock, int out_pipe, int err_pipe);
  ~OutputChannel();
  OutputChannel(const OutputChannel&) = delete;
  OutputChannel& operator=(const OutputChannel&) = delete;

  // Starts the pump thread (with every signal blocked in it).
  void Start();

  // A new request: output frames carry `id` and `session`; the byte count
  // toward `cap` restarts.
  void BeginRequest(uint64_t id, const std::string& session, uint64_t cap);

  // Returns false once this request's output passed its cap (the bytes were
  // dropped and a notice was sent instead).
  bool Write(proto::Output::Stream stream, std::string_view bytes);

  // Sends all pending output, including what the pipes hold right now.
  void Flush();

  // Flushes, then sends `msg` as one frame after the output.
  bool SendFrame(const proto::Message& msg);

  bool overflowed() const;

  // Rich output: flushes pending text, then sends `blob` (when it has data)
  // and `display`, both stamped with this request's id and session. Their
  // bytes count toward the cap; past it nothing is sent and false returned.
  bool SendDisplay(proto::Message display, proto::Message blob);

  // Output from now on belongs to interact `target` ("" for the cell's own
  // output); what was written before is sent first, under the old target.
  void SetTarget(std::string target);

  // While set, everything written is dropped (a worker warming itself up).
  void SetDiscard(bool discard);

  // True in a process forked by user code (os.fork) from the worker: it must
  // never touch the socket, and its Python output goes to fds 1/2 instead.
  static bool InForkedChild();

 private:
  struct Chunk {
    proto::Output::Stream stream;
    std::string text;
  };
  void PumpLoop();
  void AppendLocked(proto::Output::Stream stream, std::string_view bytes);
  void DrainPipesLocked();
  void StopFloodLocked();
  void SendPendingLocked();
  std::string TakePendingFramesLocked();
  bool WriteLocked(const std::string& frame);

  const int sock_;
  const int pipes_[2];
  int timer_fd_ = -1;  // timerfd: armed while output is pending
  bool timer_armed_ = false;
  void ArmTimerLocked(bool arm);
  mutable std::mutex mu_;
  std::vector<Chunk> pending_;
  size_t pending_bytes_ = 0;
  core::Utf8Sanitizer sanitizers_[2];
  uint64_t request_id_ = 0;
  std::string session_;
  std::string target_;
  uint64_t cap_ = 0;
  uint64_t written_ = 0;
  bool overflowed_ = false;
  bool discard_ = false;
  bool stop_ = false;
  bool socket_ok_ = true;
  std::thread pump_;
};

}  // namespace salvus::compute
