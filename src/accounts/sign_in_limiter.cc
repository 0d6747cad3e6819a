#include "accounts/sign_in_limiter.h"

#include <algorithm>

namespace salvus::accounts {

SignInLimiter::Clock::duration SignInLimiter::Wait(const std::string& key,
                                                   Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = keys_.find(key);
  if (it == keys_.end() || it->second.next <= now) return Clock::duration::zero();
  return it->second.next - now;
}

void SignInLimiter::Failed(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (!keys_.contains(key) && keys_.size() >= opt_.max_keys) MakeRoom(now);
  Entry& e = keys_[key];
  e.failures = std::min(e.failures + 1, 1 << 20);
  e.last = now;
  const int over = e.failures - opt_.free_failures;
  if (over <= 0) {
    e.next = now;
    return;
  }
  Clock::duration wait = opt_.max_wait;
  if (over <= 30) {
    wait = std::min<Clock::duration>(opt_.max_wait, opt_.base * (int64_t{1} << (over - 1)));
  }
  e.next = now + wait;
}

void SignInLimiter::Succeeded(const std::string& key) {
  std::lock_guard lock(mu_);
  keys_.erase(key);
}

size_t SignInLimiter::size() const {
  std::lock_guard lock(mu_);
  return keys_.size();
}

void SignInLimiter::MakeRoom(Clock::time_point now) {
  std::erase_if(keys_, [&](const auto& kv) {
    return std::max(kv.second.next, kv.second.last) + opt_.forget_after <= now;
  });
  if (keys_.size() < opt_.max_keys || keys_.empty()) return;
  auto oldest = std::min_element(keys_.begin(), keys_.end(), [](const auto& a, const auto& b) {
    return a.second.last < b.second.last;
  });
  keys_.erase(oldest);
}

}  // namespace salvus::accounts
