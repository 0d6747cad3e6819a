#include "compute/uid_pool.h"

namespace salvus::compute {

UidPool::UidPool(uid_t first, unsigned count) {
  for (unsigned i = 0; i < count; ++i) free_.insert(first + i);
}

std::optional<uid_t> UidPool::Acquire() {
  if (free_.empty()) return std::nullopt;
  uid_t u = *free_.begin();
  free_.erase(free_.begin());
  return u;
}

void UidPool::Release(uid_t uid) { free_.insert(uid); }

}  // namespace salvus::compute
