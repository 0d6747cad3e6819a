#include "hub/coalescing_stream.h"

#include <gtest/gtest.h>

#include <boost/beast/websocket.hpp>
#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace salvus::hub {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using boost::system::error_code;

// A TCP socket that counts the writes made on it: what the layer above
// hands down in one call.
class CountingSocket {
 public:
  using executor_type = tcp::socket::executor_type;
  explicit CountingSocket(tcp::socket s) : s_(std::move(s)) {}
  executor_type get_executor() { return s_.get_executor(); }
  tcp::socket& next_layer() { return s_; }
  template <class B, class T>
  auto async_read_some(const B& b, T&& t) {
    return s_.async_read_some(b, std::forward<T>(t));
  }
  template <class B, class T>
  auto async_write_some(const B& b, T&& t) {
    ++writes;
    return s_.async_write_some(b, std::forward<T>(t));
  }
  int writes = 0;

 private:
  tcp::socket s_;
};

template <class H>
void async_teardown(beast::role_type role, CountingSocket& s, H&& h) {
  websocket::async_teardown(role, s.next_layer(), std::forward<H>(h));
}

using ServerWs = websocket::stream<CoalescingStream<CountingSocket>>;
using ClientWs = websocket::stream<tcp::socket>;

// A connected pair: a server WebSocket over the layer under test and a plain
// Beast client, both on `io`.
struct Pair {
  explicit Pair(asio::io_context& io) : server(io), client(io) {}
  std::optional<ServerWs> server_ws;
  tcp::socket server;
  ClientWs client;
};

void Connect(asio::io_context& io, Pair* p) {
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  p->client.next_layer().connect(acc.local_endpoint());
  p->server = acc.accept();
  p->server_ws.emplace(CountingSocket(std::move(p->server)));
  p->server_ws->text(true);
  error_code accepted = asio::error::would_block, shook = asio::error::would_block;
  p->server_ws->async_accept([&](error_code ec) { accepted = ec; });
  p->client.async_handshake("127.0.0.1", "/", [&](error_code ec) { shook = ec; });
  while (accepted == asio::error::would_block || shook == asio::error::would_block) io.run_one();
  io.restart();
  ASSERT_FALSE(accepted) << accepted.message();
  ASSERT_FALSE(shook) << shook.message();
}

CountingSocket& Lower(Pair& p) { return p.server_ws->next_layer().next_layer(); }

// Runs `io` until `done()` or 10 s.
template <class F>
bool RunUntil(asio::io_context& io, F done) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < end) {
    io.run_for(std::chrono::milliseconds(5));
    io.restart();
  }
  return done();
}

std::vector<std::string> ReadN(asio::io_context& io, ClientWs& ws, size_t n) {
  std::vector<std::string> got;
  beast::flat_buffer buf;
  bool failed = false;
  std::function<void()> next = [&] {
    ws.async_read(buf, [&](error_code ec, size_t) {
      if (ec) {
        failed = true;
        return;
      }
      got.push_back(beast::buffers_to_string(buf.data()));
      buf.clear();
      if (got.size() < n) next();
    });
  };
  next();
  RunUntil(io, [&] { return failed || got.size() == n; });
  return got;
}

TEST(CoalescingStream, MessagesOfOneTurnLeaveInOneWrite) {
  asio::io_context io;
  Pair p(io);
  Connect(io, &p);
  const int before = Lower(p).writes;
  int completed = 0;
  // Two messages queued in one turn, the second from the first's completion
  // (as the hub's writer does): one write below.
  p.server_ws->async_write(asio::buffer(std::string_view("output")), [&](error_code ec, size_t) {
    ASSERT_FALSE(ec);
    ++completed;
    p.server_ws->async_write(asio::buffer(std::string_view("done")), [&](error_code ec2, size_t) {
      ASSERT_FALSE(ec2);
      ++completed;
    });
  });
  auto got = ReadN(io, p.client, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "output");
  EXPECT_EQ(got[1], "done");
  EXPECT_EQ(completed, 2);
  EXPECT_EQ(Lower(p).writes - before, 1);
}

TEST(CoalescingStream, ManyMessagesOfAnySizeArriveInOrderThroughASlowReader) {
  asio::io_context io;
  Pair p(io);
  Connect(io, &p);
  std::mt19937 rng(7);
  std::vector<std::string> sent;
  for (int i = 0; i < 120; ++i) {
    const size_t size = (i % 4 == 0) ? 1024 * 1024 + rng() % 1000 : rng() % 2000;
    std::string m(size, 'a' + i % 26);
    m.insert(0, std::to_string(i) + ":");
    sent.push_back(std::move(m));
  }
  // A writer that queues the next message from each completion.
  size_t written = 0;
  size_t max_buffered = 0;
  std::function<void()> write = [&] {
    if (written == sent.size()) return;
    p.server_ws->async_write(asio::buffer(sent[written]), [&](error_code ec, size_t) {
      ASSERT_FALSE(ec) << ec.message();
      ++written;
      max_buffered = std::max(max_buffered, p.server_ws->next_layer().buffered());
      write();
    });
  };
  write();
  // The reader waits first: the writer must be held back, not buffer it all.
  for (int i = 0; i < 30; ++i) {
    io.run_for(std::chrono::milliseconds(10));
    io.restart();
  }
  EXPECT_LT(written, sent.size()) << "a peer that does not read must hold the writer";
  // What waits for the socket: at most about twice (the high-water mark and
  // one message), however much the writer has to send.
  EXPECT_LE(max_buffered, 2 * (CoalescingStream<CountingSocket>::kHighWater + 1030 * 1024));
  auto got = ReadN(io, p.client, sent.size());
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) ASSERT_EQ(got[i], sent[i]) << i;
  EXPECT_EQ(written, sent.size());
}

TEST(CoalescingStream, CloseSendsWhatIsBufferedFirst) {
  asio::io_context io;
  Pair p(io);
  Connect(io, &p);
  error_code closed = asio::error::would_block;
  p.server_ws->async_write(asio::buffer(std::string_view("last words")),
                           [&](error_code ec, size_t) {
                             ASSERT_FALSE(ec);
                             p.server_ws->async_close(websocket::close_code::going_away,
                                                      [&](error_code ec2) { closed = ec2; });
                           });
  auto got = ReadN(io, p.client, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "last words");
  beast::flat_buffer buf;
  error_code read_end;
  bool read_done = false;
  p.client.async_read(buf, [&](error_code ec, size_t) {
    read_end = ec;
    read_done = true;
  });
  ASSERT_TRUE(RunUntil(io, [&] { return read_done && closed != asio::error::would_block; }));
  EXPECT_EQ(read_end, websocket::error::closed);
  EXPECT_EQ(p.client.reason().code, websocket::close_code::going_away);
  EXPECT_FALSE(closed) << closed.message();
}

TEST(CoalescingStream, AnErrorBelowFailsTheWritesAfterIt) {
  asio::io_context io;
  Pair p(io);
  Connect(io, &p);
  p.client.next_layer().close();
  // Writes go on until the layer below reports the peer gone; then every
  // later write fails at once.
  error_code last;
  int n = 0;
  std::function<void()> write = [&] {
    p.server_ws->async_write(asio::buffer(std::string(1000, 'x')), [&](error_code ec, size_t) {
      last = ec;
      if (!ec && ++n < 100000) write();
    });
  };
  write();
  ASSERT_TRUE(RunUntil(io, [&] { return bool(last); }));
  error_code after;
  bool done = false;
  p.server_ws->next_layer().async_write_some(asio::buffer(std::string_view("x")),
                                             [&](error_code ec, size_t) {
                                               after = ec;
                                               done = true;
                                             });
  ASSERT_TRUE(RunUntil(io, [&] { return done; }));
  EXPECT_TRUE(after);
}

}  // namespace
}  // namespace salvus::hub
