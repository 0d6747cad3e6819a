// Running programs for `salvus admin`: a command waited for (ip, openssl,
// initdb), and a service started detached, optionally inside a network
// namespace and as another user. admin is single-threaded, so forking here
// is safe; it goes through core::Fork.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace salvus::admin {

struct ProcessOptions {
  std::string netns;             // "" runs in this network namespace
  std::optional<uid_t> uid;      // run as (its gid and groups too)
  std::string log;               // stdout and stderr appended here ("" /dev/null for Launch)
  std::vector<std::string> env;  // "K=V" added to the environment
  std::string cwd;
};

struct RunResult {
  int status = -1;     // the exit status; 128+signal when killed; -1 not started
  std::string output;  // stdout and stderr, the first 64 KiB (when no log)
  bool ok() const { return status == 0; }
};

// Runs argv (argv[0] a path, or a name looked up on PATH) and waits for it,
// at most `timeout` (then it is killed).
RunResult Run(const std::vector<std::string>& argv, const ProcessOptions& o = {},
              std::chrono::seconds timeout = std::chrono::seconds(120));

// Starts argv in a session of its own and returns its pid without waiting.
std::expected<pid_t, std::string> Launch(const std::vector<std::string>& argv,
                                         const ProcessOptions& o);

// Runs `probe` in a child inside network namespace `netns` ("" this one) and
// returns what it returned; false when it cannot, or takes over `timeout`.
bool InNetns(const std::string& netns, const std::function<bool()>& probe,
             std::chrono::seconds timeout = std::chrono::seconds(10));

// Whether `pid` is a live process (a zombie child is reaped and is not).
bool Alive(pid_t pid);

// SIGTERM, then SIGKILL after `grace`; true once it is gone.
bool Stop(pid_t pid, std::chrono::milliseconds grace = std::chrono::seconds(10));

// "a b 'c d'": argv for messages.
std::string Quote(const std::vector<std::string>& argv);

}  // namespace salvus::admin
