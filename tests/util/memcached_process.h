// Test helper: a real memcached on a free loopback port, killed afterwards.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "util/free_port.h"

namespace salvus::testutil {

class MemcachedProcess {
 public:
  // Starts `memcached` (as `-u nobody` when root) and waits, up to 10 s,
  // until it accepts connections.
  MemcachedProcess();
  ~MemcachedProcess();
  MemcachedProcess(const MemcachedProcess&) = delete;
  MemcachedProcess& operator=(const MemcachedProcess&) = delete;

  bool ok() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  // SIGKILL, and wait for it.
  void Kill();
  // Kill(), then a new memcached on the same port (ok() says if it runs).
  void Restart();

 private:
  void Launch();  // on port_
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// True if something accepts TCP connections on 127.0.0.1:port.
bool Accepts(uint16_t port);

}  // namespace salvus::testutil
