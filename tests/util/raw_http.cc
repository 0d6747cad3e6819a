#include "util/raw_http.h"

#include <unistd.h>

#include "compute/testing/loopback.h"

namespace salvus::testutil {

std::string RawHttp(uint16_t port, const std::string& request, bool status_line_only) {
  const int fd = ConnectLoopback(port, 10);
  if (fd == -1) return "";
  std::string answer;
  (void)!write(fd, request.data(), request.size());
  char buf[4096];
  for (ssize_t n; !(status_line_only && answer.find("\r\n") != std::string::npos) &&
                  (n = read(fd, buf, sizeof buf)) > 0;) {
    answer.append(buf, n);
  }
  close(fd);
  return status_line_only ? answer.substr(0, answer.find("\r\n")) : answer;
}

std::string HttpGet(uint16_t port, const std::string& target) {
  return RawHttp(port,
                 "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

}  // namespace salvus::testutil
