// Test helper: blocks of session uids that no other test process on this
// machine holds. ctest runs tests in parallel, and two compute servers on the
// same uids refuse to start (or would kill each other's sessions).
#pragma once

#include <sys/types.h>

namespace salvus::testutil {

// Claims the first free block of `size` uids among base, base + size, ...
// (`slots` blocks), locking /tmp/salvus-uids-<base>-<n>.lock. Every call
// claims a new block; the lock is held until the process exits. Falls back
// to `base` if every block is taken.
uid_t ClaimUidBlock(uid_t base, unsigned size, unsigned slots);

}  // namespace salvus::testutil
