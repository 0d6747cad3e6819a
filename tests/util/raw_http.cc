#include "util/raw_http.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace salvus::testutil {

std::string RawHttp(uint16_t port, const std::string& request, bool status_line_only) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    (void)!write(fd, request.data(), request.size());
    char buf[4096];
    for (ssize_t n; !(status_line_only && answer.find("\r\n") != std::string::npos) &&
                    (n = read(fd, buf, sizeof buf)) > 0;) {
      answer.append(buf, n);
    }
  }
  close(fd);
  return status_line_only ? answer.substr(0, answer.find("\r\n")) : answer;
}

std::string HttpGet(uint16_t port, const std::string& target) {
  return RawHttp(port,
                 "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

}  // namespace salvus::testutil
