#include "compute/interrupt_target.h"

#include <signal.h>

#include <atomic>
#include <cstdint>

#include "compute/python.h"

namespace salvus::compute {
namespace {

std::atomic<uint64_t> g_target{0};
struct sigaction g_previous {};

void OnSigint(int sig, siginfo_t* info, void* context) {
  if (info != nullptr && info->si_code == SI_QUEUE) {
    g_target.store(reinterpret_cast<uintptr_t>(info->si_value.sival_ptr),
                   std::memory_order_relaxed);
  }
  // Handed on as the previous handler was installed to be called; last, as
  // it may not return (cysignals jumps out of a computation in sig_on).
  if ((g_previous.sa_flags & SA_SIGINFO) != 0) {
    g_previous.sa_sigaction(sig, info, context);
  } else if (g_previous.sa_handler == SIG_DFL) {
    signal(sig, SIG_DFL);
    raise(sig);
  } else if (g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
  }
}

}  // namespace

bool InstallInterruptTarget() {
  struct sigaction previous {};
  if (sigaction(SIGINT, nullptr, &previous) != 0) return false;
  if ((previous.sa_flags & SA_SIGINFO) != 0 && previous.sa_sigaction == OnSigint) return true;
  g_previous = previous;
  struct sigaction mine = previous;
  mine.sa_sigaction = OnSigint;
  mine.sa_flags = (previous.sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
  return sigaction(SIGINT, &mine, nullptr) == 0;
}

void BeginRequestInterrupts(uint64_t request) {
  ClearPendingInterrupt();
  // An interrupt queued for this request before it began was dropped with
  // the rest just now: raised again, it stops the request at its start.
  if (g_target.exchange(0, std::memory_order_relaxed) == request && request != 0) raise(SIGINT);
}

uint64_t LastInterruptTarget() { return g_target.load(std::memory_order_relaxed); }

}  // namespace salvus::compute
