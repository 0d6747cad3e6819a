// The environment sessions run in. Nothing of the operator's reaches a cell
// (no PWD, OLDPWD, tokens, database passwords, SSH agents): the zygote
// starts from an empty environment and sets only what is listed here, and
// each worker then sets its own home. README.md ("Sandbox") lists the same.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace salvus::compute {

// The variables every session has, whatever its home, in order.
std::vector<std::pair<std::string, std::string>> FixedSessionEnvironment();

// In the zygote, before Python starts: clears the environment, then sets
// FixedSessionEnvironment() and HOME, DOT_SAGE, MPLCONFIGDIR under `home`
// (the zygote's own).
void SetZygoteEnvironment(const std::string& home);

// In a worker, after the sandbox: HOME, DOT_SAGE, MPLCONFIGDIR and TMPDIR
// under the session's `home`, USER=sage; and a umask of 077, so what a
// session writes (also in /tmp) is its own.
void SetWorkerEnvironment(const std::string& home);

}  // namespace salvus::compute
