// The embedded CPython of the zygote and its workers: interpreter set-up,
// the `_salvus` extension module (the C++ side of sys.stdout/sys.stderr),
// and calls into the package salvus_worker/ (embedded in the binary).
//
// All functions need the GIL, i.e. must run on the zygote's (or worker's)
// main thread.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

namespace salvus::compute {

class OutputChannel;

// Starts CPython as Debian's /usr/bin/python3 (isolated from PYTHON*
// variables and the pyenv python on PATH), loads salvus_worker and runs
// init_zygote(kernel): for sage this imports sage.all and warms up.
std::expected<void, std::string> InitPython(const std::string& kernel);

// Fork hooks (PyOS_BeforeFork / AfterFork_*).
void PythonBeforeFork();
void PythonAfterForkParent();
void PythonAfterForkChild();

// In a worker: route sys.stdout/sys.stderr to `channel`.
void InstallOutput(OutputChannel* channel);

// Points the session at `home`, seeds every RNG, and, if `warm`, warms the
// worker up (quietly) so its first cell is as fast as later ones. Runs in
// preforked workers, before a session is assigned.
std::expected<void, std::string> InitWorker(const std::string& home, uint64_t seed, bool warm);

enum class ExecStatus { kOk, kError, kInterrupted };
// Runs one cell. Output goes through the installed channel.
ExecStatus Execute(const std::string& code);

// Reruns interact `id` with new control values (a JSON object).
ExecStatus InteractUpdate(const std::string& id, const std::string& values_json);

struct CompletionResult {
  std::vector<std::string> matches;
  uint32_t start = 0, end = 0;  // code points
};
// Completions at `cursor` (code points) from the session's namespace.
CompletionResult Complete(const std::string& code, uint32_t cursor);

// Before a worker exits: stops the session's subprocesses (gp, gap, ...)
// and removes its temporary files: salvus_worker.finish_worker(). Never throws.
void CleanUpBeforeExit();

// Drops an interrupt that arrived while no code was running, so it cannot
// hit the next request.
void ClearPendingInterrupt();

}  // namespace salvus::compute
