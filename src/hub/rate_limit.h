// A token bucket: `rate` messages per second on average, up to `burst` at
// once. A message past that is not refused but delayed: Take says how long
// to wait before handling it, so a flooding connection is slowed to the rate
// (and TCP pushes back on its sender) while nothing it sent is lost.
// Pure; not thread-safe (one per connection, on its shard's loop).
#pragma once

#include <algorithm>
#include <chrono>

namespace salvus::hub {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // rate <= 0: no limit.
  TokenBucket(double rate, double burst, Clock::time_point now = Clock::now())
      : rate_(rate), burst_(std::max(1.0, burst)), tokens_(burst_), last_(now) {}

  // Takes a token for one message arriving at `now`; returns how long to
  // wait before handling it (zero: at once). Tokens go into debt while a
  // sender is over the rate, so waiting what Take says keeps it at the rate.
  Clock::duration Take(Clock::time_point now) {
    if (rate_ <= 0) return Clock::duration::zero();
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) {
      tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
      last_ = now;
    }
    tokens_ -= 1;
    if (tokens_ >= 0) return Clock::duration::zero();
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(-tokens_ / rate_));
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace salvus::hub
