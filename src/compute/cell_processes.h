// The processes a cell leaves behind. A cell's own forks (os.fork, a
// subprocess left running, a fork bomb) stay in the worker's process group;
// they end with the cell, before its `done`, so nothing of one cell runs on
// (and writes into the next cell's output) after it. A process that left the
// group on purpose (setsid: Sage's pexpect interfaces such as Maxima or GAP)
// lives on until the session ends (unless it writes into the cell's output
// pipes: a pty, as theirs, is fine).
#pragma once

#include <sys/types.h>

#include <string_view>

namespace salvus::compute {

// The process group and state of a /proc/PID/stat line; false if it does
// not parse. (The command name may hold spaces and parentheses.)
bool ParseStatGroup(std::string_view stat, pid_t* pgrp, char* state);

// The pid most recently handed out in the caller's pid namespace (the last
// field of /proc/loadavg), or -1. Unchanged since the last look: no process
// was created anywhere meanwhile, so there is nothing new to end (this spares the
// scan of /proc, a millisecond or two without a pid namespace of its own).
pid_t NewestPid();

// Kills (SIGKILL) every process of the caller's process group but the
// caller, and every process writing into the caller's stdout or stderr
// pipe from its own fd 1 or 2 (one that left the group with setsid and
// would write into the next cell), until none is left (new forks included; bounded to about a
// second). Zombies among the caller's children are reaped. Returns how
// many processes it killed.
int EndOtherProcessesInGroup();

}  // namespace salvus::compute
