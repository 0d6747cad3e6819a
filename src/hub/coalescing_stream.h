// A stream layer that gathers the writes made in one turn of the event loop
// and hands them to the layer below in one write.
//
// Beast's WebSocket stream writes each message with its own write, so a
// cell's `output` and `done`, queued for a browser in the same turn, took two
// sendmsg calls and reached the browser as two segments. Under the WebSocket
// stream this layer takes each write's bytes at once, completes it (posted,
// never inline) and posts one flush that writes everything gathered.
//
// Writes complete before their bytes reach the kernel, as they would after a
// write into a socket buffer; past kHighWater bytes not yet written, a write
// completes only once the layer below has taken what was waiting (so a peer
// that does not read slows the writer down instead of growing memory). An
// error from the layer below fails every later write.
//
// A WebSocket close goes through async_teardown below, which flushes first.
// Thread-safety: none; every call on the stream's executor (one thread).
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace salvus::hub {

template <class Next>
class CoalescingStream {
  struct State;

 public:
  using executor_type = typename Next::executor_type;
  using next_layer_type = Next;
  // Bytes waiting for the layer below past which writes wait too.
  static constexpr size_t kHighWater = 256 * 1024;

  template <class... Args>
  explicit CoalescingStream(Args&&... args)
      : s_(std::make_shared<State>(std::forward<Args>(args)...)) {}
  CoalescingStream(CoalescingStream&&) noexcept = default;
  CoalescingStream& operator=(CoalescingStream&&) noexcept = default;

  executor_type get_executor() noexcept { return s_->next.get_executor(); }
  Next& next_layer() noexcept { return s_->next; }
  const Next& next_layer() const noexcept { return s_->next; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return s_->next.async_read_some(buffers, std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [](auto handler, std::shared_ptr<State> s, const ConstBuffers& buffers) {
          s->Write(buffers, std::move(handler));
        },
        token, s_, buffers);
  }

  // Calls `then(ec)` (posted) once every byte written so far has been handed
  // to the layer below, or that failed.
  void AsyncFlush(std::move_only_function<void(boost::system::error_code)> then) {
    s_->WhenFlushed(std::move(then));
  }

  // Bytes taken but not yet handed to the layer below.
  size_t buffered() const noexcept { return s_->pending.size() + s_->sending.size(); }

 private:
  struct State : std::enable_shared_from_this<State> {
    template <class... Args>
    explicit State(Args&&... args) : next(std::forward<Args>(args)...) {}

    Next next;
    std::string pending;  // taken, not yet in a write below
    std::string sending;  // in the write below now in flight
    bool writing = false;
    bool flush_posted = false;
    boost::system::error_code error;
    std::vector<std::move_only_function<void()>> held;  // writes past kHighWater
    std::vector<std::move_only_function<void(boost::system::error_code)>> flushed;

    template <class Handler>
    void Complete(Handler handler, boost::system::error_code ec, size_t n) {
      auto ex = boost::asio::get_associated_executor(handler, next.get_executor());
      boost::asio::post(ex, boost::beast::bind_front_handler(std::move(handler), ec, n));
    }

    template <class ConstBuffers, class Handler>
    void Write(const ConstBuffers& buffers, Handler handler) {
      if (error) return Complete(std::move(handler), error, 0);
      const size_t n = boost::asio::buffer_size(buffers);
      const size_t at = pending.size();
      pending.resize(at + n);
      boost::asio::buffer_copy(boost::asio::buffer(pending.data() + at, n), buffers);
      if (pending.size() + sending.size() > kHighWater && (writing || flush_posted)) {
        held.emplace_back([self = this->shared_from_this(), h = std::move(handler), n]() mutable {
          self->Complete(std::move(h), self->error, self->error ? 0 : n);
        });
      } else {
        Complete(std::move(handler), {}, n);
      }
      PostFlush();
    }

    void PostFlush() {
      if (writing || flush_posted) return;
      flush_posted = true;
      boost::asio::post(next.get_executor(), [self = this->shared_from_this()] {
        self->flush_posted = false;
        self->StartWrite();
      });
    }

    void StartWrite() {
      if (writing) return;
      if (pending.empty() || error) {
        pending.clear();
        auto waiting = std::move(flushed);
        flushed.clear();
        for (auto& f : waiting) {
          boost::asio::post(next.get_executor(),
                            [f = std::move(f), ec = error]() mutable { f(ec); });
        }
        return;
      }
      writing = true;
      std::swap(pending, sending);
      boost::asio::async_write(
          next, boost::asio::buffer(sending),
          [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
            self->writing = false;
            if (self->pending.empty()) {
              // Nothing more to write for now: give the memory back (most
              // connections are idle most of the time).
              std::string().swap(self->sending);
            } else {
              self->sending.clear();
            }
            if (ec) self->error = ec;
            if (self->error || self->pending.size() <= kHighWater) {
              auto go = std::move(self->held);
              self->held.clear();
              for (auto& g : go) g();
            }
            self->StartWrite();
          });
    }

    void WhenFlushed(std::move_only_function<void(boost::system::error_code)> then) {
      flushed.push_back(std::move(then));
      if (!writing && !flush_posted) PostFlush();
    }
  };

  std::shared_ptr<State> s_;
};

// The WebSocket close: what is buffered leaves first, then the layer below
// is torn down the way Beast tears it down.
template <class Next, class TeardownHandler>
void async_teardown(boost::beast::role_type role, CoalescingStream<Next>& stream,
                    TeardownHandler&& handler) {
  stream.AsyncFlush([&next = stream.next_layer(), role, h = std::forward<TeardownHandler>(handler)](
                        boost::system::error_code) mutable {
    using boost::beast::websocket::async_teardown;
    async_teardown(role, next, std::move(h));
  });
}

}  // namespace salvus::hub
