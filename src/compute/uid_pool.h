// Session uids: a fixed range, each uid held by at most one live session
// (or preforked worker) and returned only after its processes and files are
// gone. Not thread-safe (owned by the compute server's event loop).
#pragma once

#include <sys/types.h>

#include <optional>
#include <set>

namespace salvus::compute {

class UidPool {
 public:
  UidPool(uid_t first, unsigned count);
  // Lowest free uid, or nullopt when every uid is in use.
  std::optional<uid_t> Acquire();
  // REQUIRES: `uid` was acquired and not released since.
  void Release(uid_t uid);
  size_t free_count() const { return free_.size(); }

 private:
  std::set<uid_t> free_;
};

}  // namespace salvus::compute
