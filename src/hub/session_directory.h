// Where each session is: the shard whose Router holds it, so that a resume
// arriving on another shard finds it (whether the session is detached or
// still attached to a connection the hub thinks alive).
//
// Thread-safe: shared by the shards of a hub; touched once when a session
// starts and once when it ends, and by resumes, so the mutex is no
// bottleneck.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace salvus::hub {

class SessionDirectory {
 public:
  void Put(const std::string& session, unsigned shard) {
    std::lock_guard lock(mu_);
    where_[session] = shard;
  }
  // Forgets `session` if `shard` holds it.
  void Erase(const std::string& session, unsigned shard) {
    std::lock_guard lock(mu_);
    if (auto it = where_.find(session); it != where_.end() && it->second == shard) where_.erase(it);
  }
  std::optional<unsigned> Find(const std::string& session) {
    std::lock_guard lock(mu_);
    auto it = where_.find(session);
    if (it == where_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, unsigned> where_;
};

}  // namespace salvus::hub
