#include "util/raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
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

int ConnectFrom(const char* local, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, local, &a.sin_addr);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string Exchange(int fd, const std::string& request, bool whole) {
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return "";
  std::string answer;
  char buf[4096];
  for (ssize_t n; (whole || answer.find("\r\n\r\n") == std::string::npos) &&
                  (n = read(fd, buf, sizeof buf)) > 0;) {
    answer.append(buf, n);
  }
  return answer;
}

std::string StatusLine(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

std::string GetRequest(const std::string& target, const std::string& host) {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
}

std::string UpgradeRequest(const std::string& host, const std::string& origin) {
  return "GET /ws HTTP/1.1\r\nHost: " + host +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
         (origin.empty() ? "" : "Origin: " + origin + "\r\n") + "\r\n";
}

int HoldWebSocket(const char* local, uint16_t port, const std::string& host) {
  const int fd = ConnectFrom(local, port);
  if (fd == -1) return -1;
  if (StatusLine(Exchange(fd, UpgradeRequest(host))) != "HTTP/1.1 101 Switching Protocols") {
    close(fd);
    return -1;
  }
  return fd;
}

std::string SendFrom(const char* local, uint16_t port, const std::string& bytes) {
  const int fd = ConnectFrom(local, port);
  if (fd == -1) return "(no connection)";
  std::string a = Exchange(fd, bytes, true);
  close(fd);
  return a;
}

}  // namespace salvus::testutil
