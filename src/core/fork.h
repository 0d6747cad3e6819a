// The one place a salvus process calls fork() (DESIGN.md; redis's redisFork).
#pragma once

#include <sys/types.h>

#include <functional>

namespace salvus::core {

struct ForkHooks {
  std::function<void()> before;        // in the parent, before fork
  std::function<void()> after_parent;  // in the parent, after fork (also on failure)
  std::function<void()> after_child;   // in the child, first thing
};

// Returns as fork(2) does: the child's pid in the parent, 0 in the child,
// -1 on failure (errno set).
pid_t Fork(const ForkHooks& hooks = {});

}  // namespace salvus::core
