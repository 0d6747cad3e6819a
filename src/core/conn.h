// A framed, full-duplex connection on the event loop: one read loop that
// hands each frame to a callback, and one writer that drains a queue (so
// writes never interleave). Templated on the stream so TCP, TLS and Unix
// sockets share the code; callers see only the Conn interface.
//
// Flow control: a reader may pause (PauseReading: the peer's writes then
// block once the socket buffers are full), a writer learns when its queue
// backs up (SetBacklogMarks), and a hard cap (set_max_queued) closes a
// connection whose peer reads nothing rather than queue without bound.
//
// Thread-safety: none; every call happens on the connection's io_context
// (single-threaded in the compute server).
#pragma once

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "core/frame.h"

namespace salvus::core {

namespace asio = boost::asio;

class Conn {
 public:
  virtual ~Conn() = default;
  // Queues an encoded frame (see EncodeFrame). Dropped after Close().
  virtual void Send(std::string frame) = 0;
  // Sends what is queued, then closes. Idempotent.
  virtual void CloseAfterWrites() = 0;
  // Closes now.
  virtual void Close() = 0;
  virtual bool closed() const = 0;
  virtual const std::string& peer() const = 0;
  // Bytes queued but not yet written.
  virtual size_t queued_bytes() const = 0;
  // The largest frame read from now on (a larger one ends the read side
  // with kTooBig); frames already buffered are checked against it too.
  virtual void set_max_frame(size_t max_frame) = 0;
  virtual size_t max_frame() const = 0;
  // Stops handing frames on (and reading, once what was read is handed
  // on) until ResumeReading. Both are idempotent.
  virtual void PauseReading() = 0;
  virtual void ResumeReading() = 0;
  // Calls `on_backlog(true)` when the bytes queued reach `high`, then
  // `on_backlog(false)` once they are down to `low` (< high), and so on.
  virtual void SetBacklogMarks(size_t high, size_t low, std::function<void(bool)> on_backlog) = 0;
  // A Send that would take the bytes queued past `max` closes the
  // connection instead (on_end gets kOverflow). 0 (the default): no cap.
  virtual void set_max_queued(size_t max) = 0;
};

// kOverflow: closed because the peer let more than max_queued bytes wait.
enum class ConnEnd { kEof, kTooBig, kError, kOverflow };

struct ConnHandlers {
  // Each complete frame body, in order.
  std::function<void(std::string_view body)> on_frame;
  // Called once, when the read side ends.
  std::function<void(ConnEnd)> on_end;
};

template <class Stream>
class FramedConn : public Conn, public std::enable_shared_from_this<FramedConn<Stream>> {
 public:
  FramedConn(Stream stream, std::string peer, size_t max_frame)
      : stream_(std::move(stream)),
        peer_(std::move(peer)),
        max_frame_(max_frame),
        wake_(stream_.get_executor()),
        resume_(stream_.get_executor()) {
    wake_.expires_at(std::chrono::steady_clock::time_point::max());
  }

  Stream& stream() { return stream_; }

  // Starts the read loop and the writer. The handlers may be called until
  // on_end; the connection keeps itself alive while either loop runs.
  void Start(ConnHandlers handlers) {
    handlers_ = std::move(handlers);
    auto self = this->shared_from_this();
    asio::co_spawn(stream_.get_executor(), self->ReadLoop(), asio::detached);
    asio::co_spawn(stream_.get_executor(), self->WriteLoop(), asio::detached);
  }

  void Send(std::string frame) override {
    if (closed_ || closing_) return;
    if (max_queued_ != 0 && queued_ + frame.size() > max_queued_) {
      overflowed_ = true;
      Close();
      return;
    }
    queued_ += frame.size();
    queue_.push_back(std::move(frame));
    wake_.cancel();
    if (!backlogged_ && high_ != 0 && queued_ >= high_) {
      backlogged_ = true;
      if (on_backlog_) on_backlog_(true);
    }
  }

  void CloseAfterWrites() override {
    closing_ = true;
    wake_.cancel();
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    LowestLayer().shutdown(asio::socket_base::shutdown_both, ec);
    LowestLayer().close(ec);
    wake_.cancel();
    resume_.cancel();
  }

  bool closed() const override { return closed_; }
  const std::string& peer() const override { return peer_; }
  size_t queued_bytes() const override { return queued_; }
  void set_max_frame(size_t max_frame) override { max_frame_ = max_frame; }
  size_t max_frame() const override { return max_frame_; }
  void PauseReading() override { paused_ = true; }
  void ResumeReading() override {
    if (!paused_) return;
    paused_ = false;
    resume_.cancel();
  }
  void SetBacklogMarks(size_t high, size_t low, std::function<void(bool)> on_backlog) override {
    high_ = high;
    low_ = low;
    on_backlog_ = std::move(on_backlog);
  }
  void set_max_queued(size_t max) override { max_queued_ = max; }

 private:
  // Waits while paused; false once closed.
  asio::awaitable<bool> WaitUnpaused() {
    while (paused_ && !closed_) {
      resume_.expires_at(std::chrono::steady_clock::time_point::max());
      boost::system::error_code ec;
      co_await resume_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return !closed_;
  }

  auto& LowestLayer() { return stream_.lowest_layer(); }

  // Reads whatever the socket has (one read usually brings every frame
  // waiting, where reading header and body apart took two per frame) and
  // hands each complete frame to on_frame.
  asio::awaitable<void> ReadLoop() {
    auto self = this->shared_from_this();
    constexpr size_t kChunk = 64 * 1024;
    std::string buf(kChunk, '\0');
    size_t begin = 0, end = 0;  // unread bytes: buf[begin, end)
    ConnEnd why = ConnEnd::kEof;
    for (;;) {
      // Every complete frame in the buffer.
      size_t need = kFrameHeaderSize;  // bytes the next frame needs in all
      while (end - begin >= kFrameHeaderSize) {
        const uint32_t len =
            DecodeFrameLength(reinterpret_cast<const unsigned char*>(buf.data() + begin));
        if (len > max_frame_) {
          why = ConnEnd::kTooBig;
          goto out;
        }
        need = kFrameHeaderSize + len;
        if (end - begin < need) break;
        if (paused_ && !co_await WaitUnpaused()) goto out;
        if (closed_) goto out;
        handlers_.on_frame(std::string_view(buf.data() + begin + kFrameHeaderSize, len));
        begin += need;
        need = kFrameHeaderSize;
      }
      // Room for the rest of a partial frame, and for a full read.
      if (begin == end) {
        begin = end = 0;
        if (buf.size() > 16 * kChunk) {  // a big frame passed: give the memory back
          buf.assign(kChunk, '\0');
          buf.shrink_to_fit();
        }
      } else if (buf.size() - begin < std::max(need, kChunk)) {
        buf.erase(0, begin);
        end -= begin;
        begin = 0;
      }
      if (buf.size() < std::max(need, end + kChunk)) buf.resize(std::max(need, end + kChunk));
      if (paused_ && !co_await WaitUnpaused()) break;
      boost::system::error_code ec;
      const size_t n =
          co_await stream_.async_read_some(asio::buffer(buf.data() + end, buf.size() - end),
                                           asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        const bool clean = ec == asio::error::eof || ec == asio::error::operation_aborted ||
                           ec == asio::ssl::error::stream_truncated;
        why = clean && begin == end ? ConnEnd::kEof : ConnEnd::kError;
        break;
      }
      end += n;
    }
  out:
    if (overflowed_) why = ConnEnd::kOverflow;
    if (handlers_.on_end) {
      auto on_end = std::move(handlers_.on_end);
      handlers_ = {};
      on_end(why);
    }
  }

  asio::awaitable<void> WriteLoop() {
    auto self = this->shared_from_this();
    std::vector<asio::const_buffer> bufs;
    std::deque<std::string> sending;
    while (!closed_) {
      if (queue_.empty()) {
        if (closing_) break;
        boost::system::error_code ec;
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      sending.swap(queue_);
      bufs.clear();
      size_t n = 0;
      for (const auto& f : sending) {
        bufs.emplace_back(asio::buffer(f));
        n += f.size();
      }
      boost::system::error_code ec;
      co_await asio::async_write(stream_, bufs, asio::redirect_error(asio::use_awaitable, ec));
      queued_ -= n;
      sending.clear();
      if (ec) break;
      if (backlogged_ && queued_ <= low_) {
        backlogged_ = false;
        if (on_backlog_) on_backlog_(false);
      }
    }
    if (!closed_) {
      if constexpr (requires { stream_.async_shutdown(asio::use_awaitable); }) {
        if (closing_) {
          boost::system::error_code ec;
          co_await stream_.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
        }
      }
      Close();
    }
  }

  Stream stream_;
  std::string peer_;
  size_t max_frame_;
  asio::steady_timer wake_;
  std::deque<std::string> queue_;
  size_t queued_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  ConnHandlers handlers_;
  asio::steady_timer resume_;  // wakes a paused read loop
  bool paused_ = false;
  size_t max_queued_ = 0;
  bool overflowed_ = false;
  size_t high_ = 0, low_ = 0;
  bool backlogged_ = false;
  std::function<void(bool)> on_backlog_;
};

}  // namespace salvus::core
