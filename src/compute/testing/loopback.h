// Test helper: a blocking TCP connection to 127.0.0.1:port whose reads
// time out, for tests that speak a protocol by hand (raw frames, raw HTTP).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace salvus::testutil {

// The connected socket (close-on-exec, reads time out after `read_timeout_s`),
// or -1 when nothing accepts.
inline int ConnectLoopback(uint16_t port, int read_timeout_s) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{read_timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace salvus::testutil
