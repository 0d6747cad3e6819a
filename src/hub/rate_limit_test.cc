#include "hub/rate_limit.h"

#include <gtest/gtest.h>

namespace salvus::hub {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

TEST(TokenBucket, BurstPassesThenMessagesWaitTheirTurn) {
  const auto t0 = Clock::time_point{} + 1h;
  TokenBucket b(10, 5, t0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.Take(t0), Clock::duration::zero()) << i;
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(b.Take(t0)), 100ms);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(b.Take(t0)), 200ms);
}

TEST(TokenBucket, WaitingWhatItSaysKeepsASenderAtTheRate) {
  auto now = Clock::time_point{} + 1h;
  TokenBucket b(100, 1, now);
  Clock::duration total{};
  for (int i = 0; i < 1000; ++i) {
    auto w = b.Take(now);
    now += w;  // the sender is as fast as allowed
    total += w;
  }
  // 1000 messages at 100/s with one free: 9.99 s of waiting.
  EXPECT_NEAR(std::chrono::duration<double>(total).count(), 9.99, 0.01);
}

TEST(TokenBucket, RefillsUpToTheBurstOnly) {
  auto t = Clock::time_point{} + 1h;
  TokenBucket b(10, 3, t);
  for (int i = 0; i < 3; ++i) b.Take(t);
  t += 1h;  // a long pause refills 3 tokens, not 36000
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b.Take(t), Clock::duration::zero());
  EXPECT_GT(b.Take(t), Clock::duration::zero());
}

TEST(TokenBucket, ZeroRateMeansNoLimit) {
  auto t = Clock::time_point{} + 1h;
  TokenBucket b(0, 1, t);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(b.Take(t), Clock::duration::zero());
}

}  // namespace
}  // namespace salvus::hub
