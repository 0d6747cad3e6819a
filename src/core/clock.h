// Time, in one place. Wall-clock milliseconds are what the database stores
// (NowMs); code that waits or measures uses a steady clock, and the parts
// whose behaviour depends on time take a `Clock&` so tests can drive it.
#pragma once

#include <chrono>
#include <cstdint>

namespace salvus::core {

// Milliseconds since the Unix epoch (the system clock).
int64_t NowMs();

// A source of time. Thread-safety: the real clock is safe from any thread;
// fakes document their own rule.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Monotonic time, for deadlines and durations.
  virtual TimePoint Now() const = 0;
  // Wall-clock milliseconds since the Unix epoch.
  virtual int64_t WallMs() const = 0;
};

// The machine's clocks (steady_clock, system_clock).
Clock& RealClock();

}  // namespace salvus::core
