#include "accounts/password_pool.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <boost/asio.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

namespace salvus::accounts {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

PasswordPoolOptions MinOptions(unsigned threads = 2, size_t max_queue = 64) {
  EXPECT_GE(sodium_init(), 0);
  PasswordPoolOptions o;
  o.threads = threads;
  o.max_queue = max_queue;
  o.params = *PasswordParamsNamed("min");
  return o;
}

// Runs `co` on a fresh loop to its end (bounded) and returns what it gave.
template <class T>
T RunCo(asio::awaitable<T> co) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, std::move(co), [&](std::exception_ptr e, T v) {
    if (e) std::rethrow_exception(e);
    out = std::move(v);
  });
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!out && std::chrono::steady_clock::now() < deadline) io.run_for(50ms), io.restart();
  EXPECT_TRUE(out) << "timed out";
  return out ? std::move(*out) : T{};
}

TEST(PasswordParams, Named) {
  for (auto n : {"interactive", "moderate", "sensitive", "min"}) {
    EXPECT_TRUE(PasswordParamsNamed(n)) << n;
  }
  auto bad = PasswordParamsNamed("fast");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("interactive"), std::string::npos);
  EXPECT_EQ(PasswordParamsNamed("interactive")->memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

TEST(CheckPassword, Bounds) {
  EXPECT_NE(CheckPassword(""), "");
  EXPECT_NE(CheckPassword("1234567"), "");
  EXPECT_EQ(CheckPassword("12345678"), "");
  EXPECT_EQ(CheckPassword(std::string(kMaxPassword, 'x')), "");
  EXPECT_NE(CheckPassword(std::string(kMaxPassword + 1, 'x')), "");
  EXPECT_NE(CheckPassword(std::string(10 << 20, 'x')), "");
}

TEST(PasswordPool, HashThenVerify) {
  PasswordPool pool(MinOptions());
  auto h = RunCo(pool.Hash("correct horse battery"));
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->starts_with("$argon2id$")) << *h;
  EXPECT_EQ(h->find("correct"), std::string::npos);

  auto ok = RunCo(pool.Verify(*h, "correct horse battery"));
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->ok);
  EXPECT_FALSE(ok->needs_rehash);
  auto wrong = RunCo(pool.Verify(*h, "correct horse batterY"));
  ASSERT_TRUE(wrong);
  EXPECT_FALSE(wrong->ok);
  // Garbage, an empty hash, the dummy: no match, no crash.
  for (std::string bad : {std::string(""), std::string("$argon2id$nonsense"), std::string(500, '$'),
                          pool.dummy_hash()}) {
    auto v = RunCo(pool.Verify(bad, "correct horse battery"));
    ASSERT_TRUE(v);
    EXPECT_FALSE(v->ok) << bad;
  }
  EXPECT_TRUE(pool.dummy_hash().starts_with("$argon2id$"));
}

TEST(PasswordPool, NeedsRehashWhenParametersChange) {
  PasswordPool cheap(MinOptions());
  auto h = RunCo(cheap.Hash("a password here"));
  ASSERT_TRUE(h);
  auto o = MinOptions();
  o.params.opslimit += 1;
  PasswordPool dearer(o);
  auto v = RunCo(dearer.Verify(*h, "a password here"));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok);
  EXPECT_TRUE(v->needs_rehash);
}

TEST(PasswordPool, ResultsComeBackOnTheCallersLoop) {
  PasswordPool pool(MinOptions());
  asio::io_context io;
  std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id resumed_on;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto h = co_await pool.Hash("a password here");
        EXPECT_TRUE(h);
        resumed_on = std::this_thread::get_id();
      },
      asio::detached);
  io.run_for(30s);
  EXPECT_EQ(resumed_on, loop_thread);
}

// A full queue answers kBusy at once; nothing waits without end.
TEST(PasswordPool, FullQueueIsBusy) {
  auto o = MinOptions(/*threads=*/1, /*max_queue=*/2);
  o.params = *PasswordParamsNamed("interactive");  // slow enough to fill the queue
  PasswordPool pool(o);
  asio::io_context io;
  int ok = 0, busy = 0;
  constexpr int kCalls = 12;
  for (int i = 0; i < kCalls; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto h = co_await pool.Hash("a password here");
          if (h) {
            ++ok;
          } else if (h.error() == PoolError::kBusy) {
            ++busy;
          }
        },
        asio::detached);
  }
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (ok + busy < kCalls && std::chrono::steady_clock::now() < deadline) {
    io.run_for(50ms);
    io.restart();
    EXPECT_LE(pool.queued(), 2u);
  }
  EXPECT_EQ(ok + busy, kCalls);
  EXPECT_GE(busy, kCalls - 3);  // one running, two queued at most
  EXPECT_GE(ok, 1);
}

// Stopping drops what waits: the loop's coroutines never resume, nothing
// crashes, and the loop can still be destroyed.
TEST(PasswordPool, StopDropsQueuedCalls) {
  auto o = MinOptions(1, 8);
  o.params = *PasswordParamsNamed("interactive");
  auto pool = std::make_unique<PasswordPool>(o);
  asio::io_context io;
  int resumed = 0;
  for (int i = 0; i < 6; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await pool->Hash("a password here");
          ++resumed;
        },
        asio::detached);
  }
  io.poll();  // submits them
  pool->Stop();
  io.run_for(200ms);
  EXPECT_LE(resumed, 1);  // at most the one that was running
  auto late = RunCo(pool->Hash("a password here"));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), PoolError::kBusy);
}

}  // namespace
}  // namespace salvus::accounts
