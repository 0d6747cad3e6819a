#include "accounts/sign_in_limiter.h"

#include <gtest/gtest.h>

namespace salvus::accounts {
namespace {

using namespace std::chrono_literals;
using Clock = SignInLimiter::Clock;

TEST(SignInLimiter, FreeFailuresThenDoubling) {
  SignInLimiterOptions o;
  o.free_failures = 3;
  o.base = 1s;
  o.max_wait = 10s;
  SignInLimiter l(o);
  const auto t0 = Clock::time_point() + 1000h;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(l.Wait("a", t0), Clock::duration::zero());
    l.Failed("a", t0);
  }
  EXPECT_EQ(l.Wait("a", t0), Clock::duration::zero());
  l.Failed("a", t0);  // 4th: 1 s
  EXPECT_EQ(l.Wait("a", t0), 1s);
  EXPECT_EQ(l.Wait("a", t0 + 400ms), 600ms);
  l.Failed("a", t0 + 1s);  // 5th: 2 s
  EXPECT_EQ(l.Wait("a", t0 + 1s), 2s);
  l.Failed("a", t0 + 3s);  // 6th: 4 s
  EXPECT_EQ(l.Wait("a", t0 + 3s), 4s);
  for (int i = 0; i < 100; ++i) l.Failed("a", t0 + 10s);  // capped, no overflow
  EXPECT_EQ(l.Wait("a", t0 + 10s), 10s);
  // Other keys are untouched; a success clears.
  EXPECT_EQ(l.Wait("b", t0), Clock::duration::zero());
  l.Succeeded("a");
  EXPECT_EQ(l.Wait("a", t0 + 10s), Clock::duration::zero());
}

// A flood of keys cannot grow it past max_keys.
TEST(SignInLimiter, Bounded) {
  SignInLimiterOptions o;
  o.max_keys = 100;
  o.free_failures = 0;
  o.forget_after = 1h;
  SignInLimiter l(o);
  const auto t0 = Clock::time_point() + 1000h;
  for (int i = 0; i < 10000; ++i) l.Failed("k" + std::to_string(i), t0 + std::chrono::seconds(i));
  EXPECT_LE(l.size(), 100u);
  // The newest are remembered.
  EXPECT_GT(l.Wait("k9999", t0 + 9999s), Clock::duration::zero());
  // Long past: forgotten when room is needed.
  l.Failed("late", t0 + 100h);
  EXPECT_LE(l.size(), 2u);
}

}  // namespace
}  // namespace salvus::accounts
