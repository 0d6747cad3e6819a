// Failed sign-ins by key (an account id, or a client address), with an
// exponential back-off: after `free_failures` failures in a row each
// further attempt must wait base, 2·base, 4·base, ... (at most max_wait)
// after the previous failure. A success clears the key. So guessing a
// password costs an attacker hours, not seconds, while a person who
// mistypes a few times never notices.
//
// Bounded: at most max_keys keys are remembered; keys whose back-off has
// long passed are forgotten first, then the oldest.
//
// Thread-safe (one limiter for all of a hub's shards).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace salvus::accounts {

struct SignInLimiterOptions {
  int free_failures = 5;
  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds max_wait{std::chrono::minutes(15)};
  size_t max_keys = 100000;
  // A key this long past its last failure (and its wait) is forgotten.
  std::chrono::milliseconds forget_after{std::chrono::hours(1)};
};

class SignInLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit SignInLimiter(SignInLimiterOptions o = {}) : opt_(o) {}

  // How long `key` must still wait before its next attempt (zero: now).
  Clock::duration Wait(const std::string& key, Clock::time_point now) const;
  // A failed attempt of `key` at `now`.
  void Failed(const std::string& key, Clock::time_point now);
  void Succeeded(const std::string& key);
  size_t size() const;

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point last;  // the last failure
    Clock::time_point next;  // no attempt before
  };
  void MakeRoom(Clock::time_point now);  // REQUIRES: mu_ held

  const SignInLimiterOptions opt_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> keys_;  // GUARDED_BY(mu_)
};

}  // namespace salvus::accounts
