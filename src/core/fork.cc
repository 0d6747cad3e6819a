#include "core/fork.h"

#include <unistd.h>

#include <cerrno>

namespace salvus::core {

pid_t Fork(const ForkHooks& hooks) {
  if (hooks.before) hooks.before();
  pid_t pid = ::fork();
  if (pid == 0) {
    if (hooks.after_child) hooks.after_child();
    return 0;
  }
  const int saved = errno;
  if (hooks.after_parent) hooks.after_parent();
  errno = saved;
  return pid;
}

}  // namespace salvus::core
