// Test helpers: a child process with its stdout and stderr in files,
// SIGKILLed if the test leaves it running; and a bounded wait for a
// condition.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace salvus::testutil {

// Polls `done` every 20 ms until it is true or `max` passes; its last answer.
template <class F>
bool WaitFor(F done, std::chrono::milliseconds max = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// Waits until the file at `path` holds a port number and returns it; 0 if
// the process `*pid` exits first (then *pid becomes -1) or `max` passes.
uint16_t WaitForPortFile(const std::string& path, pid_t* pid, std::chrono::seconds max);

class Child {
 public:
  // args[0] is the program's path. Output is appended to the files.
  Child(std::vector<std::string> args, const std::string& out, const std::string& err);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Waits (bounded) for it to exit; its exit status (128 + signal when
  // killed), or -1 if it still runs.
  int Wait(std::chrono::seconds max = std::chrono::seconds(60));
  void Signal(int sig);

 private:
  pid_t pid_ = -1;
};

}  // namespace salvus::testutil
