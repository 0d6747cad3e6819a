// Length-prefixed protobuf frames: a 4-byte big-endian length, then the
// serialized message. Used on every process-to-process hop.
//
// Blocking helpers here serve the worker (a single-threaded child); on an
// event loop, FramedConn (conn.h) reads and writes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace google::protobuf {
class MessageLite;
}

namespace salvus::core {

inline constexpr size_t kFrameHeaderSize = 4;
// Large enough for a big cell of code; small enough that one peer cannot make
// another allocate without bound.
inline constexpr size_t kDefaultMaxFrame = 8 * 1024 * 1024;
// Before a peer has authenticated (a hub's hello to a compute server: a
// token and a name), its frames are at most this.
inline constexpr size_t kMaxHelloFrame = 4096;

// Appends the frame (header + body) for `msg` to `out`.
void AppendFrame(const google::protobuf::MessageLite& msg, std::string* out);
std::string EncodeFrame(const google::protobuf::MessageLite& msg);
// Frames an already serialized message body.
std::string FrameBody(std::string_view body);

uint32_t DecodeFrameLength(const unsigned char header[kFrameHeaderSize]);

enum class ReadStatus { kOk, kEof, kTooBig, kIoError };

// Reads one frame body from a blocking fd. Retries on EINTR.
ReadStatus ReadFrame(int fd, std::string* body, size_t max_frame = kDefaultMaxFrame);

// Reads frames from a blocking fd through a buffer: one read usually brings
// a small frame's header and body together (and any frames queued after it),
// where ReadFrame takes two. Bytes past the frame returned stay buffered, so
// every read of the fd must go through the same reader.
//
// It waits in poll() for input before each read, never in read() itself: a
// read blocked on a Unix socket is also woken each time the peer takes what
// this side wrote (the socket has one wait queue for both directions), so a
// worker that writes its answer and then waits for the next request would
// be woken once for nothing per request: a context switch, dearer than the
// poll call (and poll wakes only for input).
class FrameReader {
 public:
  explicit FrameReader(int fd, size_t max_frame = kDefaultMaxFrame) : fd_(fd), max_(max_frame) {}
  ReadStatus Next(std::string* body);

 private:
  int fd_;
  size_t max_;
  std::string buf_;
  size_t begin_ = 0, end_ = 0;  // unread bytes: buf_[begin_, end_)
};

// Writes all of `data` to a blocking fd. Retries on EINTR. False on error.
bool WriteAll(int fd, std::string_view data);

}  // namespace salvus::core
