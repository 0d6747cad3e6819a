// Sessions held per client address, across every shard of a hub: a start
// takes a slot of its address, the session's end gives it back (a session
// detached from its page keeps its slot until it is resumed or ends).
//
// Thread-safe: the shards share one.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace salvus::hub {

class AddressQuota {
 public:
  // `max`: slots per address; 0: no limit (slots are still counted).
  explicit AddressQuota(size_t max) : max_(max) {}

  size_t max() const { return max_; }

  // Takes a slot of `address`; false (nothing taken) when it has none left.
  bool Take(const std::string& address) {
    std::lock_guard lock(mu_);
    size_t& n = held_[address];
    if (max_ != 0 && n >= max_) return false;
    ++n;
    return true;
  }

  void Give(const std::string& address) {
    std::lock_guard lock(mu_);
    auto it = held_.find(address);
    if (it == held_.end()) return;
    if (--it->second == 0) held_.erase(it);
  }

  size_t Held(const std::string& address) const {
    std::lock_guard lock(mu_);
    auto it = held_.find(address);
    return it == held_.end() ? 0 : it->second;
  }

 private:
  const size_t max_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, size_t> held_;
};

}  // namespace salvus::hub
