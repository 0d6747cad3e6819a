#include "compute/interrupt_target.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace salvus::compute {
namespace {

std::atomic<int> g_previous_calls{0};
void Previous(int) { ++g_previous_calls; }

void QueueSigint(uint64_t request) {
  sigval value{};
  value.sival_ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(request));
  // To this (single) thread, with SIGINT unblocked: handled before it returns.
  ASSERT_EQ(sigqueue(getpid(), SIGINT, value), 0);
}

TEST(InterruptTarget, NotesTheRequestAQueuedSigintCarriesAndHandsTheSignalOn) {
  struct sigaction previous {};
  previous.sa_handler = Previous;
  sigemptyset(&previous.sa_mask);
  ASSERT_EQ(sigaction(SIGINT, &previous, nullptr), 0);
  ASSERT_TRUE(InstallInterruptTarget());
  ASSERT_TRUE(InstallInterruptTarget());  // a second call changes nothing

  QueueSigint(42);
  EXPECT_EQ(LastInterruptTarget(), 42u);
  EXPECT_EQ(g_previous_calls, 1);  // once: not twice through our own handler

  // A plain SIGINT (kill, raise) names no request: the note stays.
  raise(SIGINT);
  EXPECT_EQ(LastInterruptTarget(), 42u);
  EXPECT_EQ(g_previous_calls, 2);

  QueueSigint(7);
  EXPECT_EQ(LastInterruptTarget(), 7u);
  EXPECT_EQ(g_previous_calls, 3);
}

}  // namespace
}  // namespace salvus::compute
