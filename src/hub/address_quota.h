// Sessions held per client address, across every shard of a hub: a start
// takes a slot of its address, the session's end gives it back.
//
// A session detached from its page (router.h) keeps its slot while it
// waits for a resume, but only while its address does not need it: a start
// that finds no slot left takes the slot of the address's session detached
// longest ago (TakeOrEvict), whose Router then ends it. So a page that
// vanished with many sessions does not lock its address (a classroom
// behind one NAT) out for the whole reconnect grace.
//
// Thread-safe: the shards share one.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace salvus::hub {

class AddressQuota {
 public:
  // A detached session, and which Router holds it (SetAddressQuota's owner).
  struct Detached {
    std::string session;
    int owner = 0;
  };
  struct Taken {
    bool ok = false;
    // Set when the slot was a detached session's: its owner must end it,
    // without giving a slot back.
    std::optional<Detached> evicted;
  };

  // `max`: slots per address; 0: no limit (slots are still counted).
  explicit AddressQuota(size_t max) : max_(max) {}

  size_t max() const { return max_; }

  // Takes a slot of `address`; false (nothing taken) when it has none left.
  bool Take(const std::string& address) {
    std::lock_guard lock(mu_);
    Entry& e = held_[address];
    if (max_ != 0 && e.held >= max_) return false;
    ++e.held;
    return true;
  }

  // As Take, but with no slot left the oldest detached session of the
  // address gives up its own (ok with `evicted`); not ok when none is
  // detached.
  Taken TakeOrEvict(const std::string& address) {
    std::lock_guard lock(mu_);
    Entry& e = held_[address];
    if (max_ == 0 || e.held < max_) {
      ++e.held;
      return {true, std::nullopt};
    }
    if (e.detached.empty()) return {};
    Taken t{true, std::move(e.detached.front())};
    e.detached.pop_front();
    return t;
  }

  void Give(const std::string& address) {
    std::lock_guard lock(mu_);
    auto it = held_.find(address);
    if (it == held_.end()) return;
    if (--it->second.held == 0) held_.erase(it);
  }

  // `session` (holding a slot of `address`) lost its page.
  void Detach(const std::string& address, const std::string& session, int owner) {
    std::lock_guard lock(mu_);
    held_[address].detached.push_back({session, owner});
  }

  // `session` is taken back by a page: true, unless it was evicted
  // meanwhile (its slot is gone: it must end).
  bool Attach(const std::string& address, const std::string& session) {
    std::lock_guard lock(mu_);
    return Unlist(address, session);
  }

  // Detached `session` ended: its slot is given back, unless it was
  // evicted (the slot went to the start that evicted it).
  void GiveDetached(const std::string& address, const std::string& session) {
    std::lock_guard lock(mu_);
    if (!Unlist(address, session)) return;
    auto it = held_.find(address);
    if (--it->second.held == 0) held_.erase(it);
  }

  size_t Held(const std::string& address) const {
    std::lock_guard lock(mu_);
    auto it = held_.find(address);
    return it == held_.end() ? 0 : it->second.held;
  }

 private:
  struct Entry {
    size_t held = 0;
    std::deque<Detached> detached;  // the oldest first
  };

  // Removes `session` from the address's detached ones; false if absent.
  bool Unlist(const std::string& address, const std::string& session) {
    auto it = held_.find(address);
    if (it == held_.end()) return false;
    auto& d = it->second.detached;
    for (auto s = d.begin(); s != d.end(); ++s) {
      if (s->session == session) {
        d.erase(s);
        return true;
      }
    }
    return false;
  }

  const size_t max_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> held_;
};

}  // namespace salvus::hub
