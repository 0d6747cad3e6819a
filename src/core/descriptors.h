// Descriptors a process did not open on purpose must never reach code it
// does not trust. Asio opens and accepts sockets without close-on-exec, and
// a forked child (the zygote, a worker) keeps whatever its parent had open:
// a compute server restarted by `salvus up` once held the hub's listening
// socket and its browsers' connections, and so did every cell.
#pragma once

#include <vector>

namespace salvus::core {

// Sets FD_CLOEXEC on `fd`; false (errno set) if it cannot.
bool SetCloseOnExec(int fd);

// The descriptors open in this process, ascending (from /proc/self/fd).
std::vector<int> OpenDescriptors();

// Closes every descriptor of this process except those in `keep`
// (close_range(2); one by one from /proc/self/fd where that is missing).
void CloseAllExcept(std::vector<int> keep);

}  // namespace salvus::core
