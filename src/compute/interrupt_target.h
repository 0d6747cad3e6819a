// Which request an interrupt is meant for, so that one arriving just before
// its request starts is kept and one arriving after its request ended is
// dropped.
//
// The compute server interrupts a worker with sigqueue(SIGINT, request id)
// (through the zygote). InstallInterruptTarget() puts a SIGINT handler in
// front of the one in place (cysignals', Python's): it notes the id a queued
// SIGINT carries and hands the signal on unchanged. A plain SIGINT (kill,
// raise) carries no id and notes nothing.
//
// Thread-safety: the handler may run on any thread; BeginRequestInterrupts
// runs on the worker's main thread, with Python's GIL held.
#pragma once

#include <cstdint>

namespace salvus::compute {

// Once, after Sage is imported (its SIGINT handler is the one handed on to).
// False (errno set) if sigaction failed; interrupts then work as before.
bool InstallInterruptTarget();

// Before request `request` runs: drops every pending interrupt, except one
// queued for `request` itself, which then stops it at once.
void BeginRequestInterrupts(uint64_t request);

// The id the last queued SIGINT carried (0: none since the last
// BeginRequestInterrupts). For tests.
uint64_t LastInterruptTarget();

}  // namespace salvus::compute
