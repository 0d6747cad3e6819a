#include "admin/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

namespace salvus::admin {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

bool WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, events, 0};
  return poll(&p, 1, static_cast<int>(left.count())) == 1;
}

}  // namespace

std::string Exchange(const std::string& host, uint16_t port, const std::string& send,
                     bool* connected, std::chrono::milliseconds timeout, size_t max) {
  *connected = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) return "";
  Fd s{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (s.fd < 0) return "";
  if (connect(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (errno != EINPROGRESS || !WaitFor(s.fd, POLLOUT, deadline)) return "";
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return "";
  }
  *connected = true;
  size_t sent = 0;
  while (sent < send.size()) {
    if (!WaitFor(s.fd, POLLOUT, deadline)) return "";
    const ssize_t n = ::send(s.fd, send.data() + sent, send.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return "";
    sent += static_cast<size_t>(n);
  }
  std::string got;
  if (send.empty()) return got;
  char buf[1024];
  while (got.size() < max && WaitFor(s.fd, POLLIN, deadline)) {
    const ssize_t n = recv(s.fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    if (got.find("\r\n") != std::string::npos && got.rfind("HTTP/", 0) != 0) break;
  }
  return got.substr(0, max);
}

bool TcpOpen(const std::string& host, uint16_t port) {
  bool connected = false;
  Exchange(host, port, "", &connected);
  return connected;
}

bool HttpOk(const std::string& host, uint16_t port, const std::string& path,
            const std::string& prefix) {
  bool connected = false;
  const std::string r = Exchange(
      host, port,
      prefix + "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n",
      &connected);
  return r.rfind("HTTP/1.1 200", 0) == 0 || r.rfind("HTTP/1.0 200", 0) == 0;
}

std::string UnixCommand(const std::string& path, const std::string& command,
                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return "";
  path.copy(a.sun_path, path.size());
  Fd s{socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0 || connect(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return "";
  const std::string line = command + "\n";
  if (::send(s.fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    return "";
  }
  std::string got;
  char buf[1024];
  while (got.size() < (64u << 10) && WaitFor(s.fd, POLLIN, deadline)) {
    const ssize_t n = recv(s.fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

}  // namespace salvus::admin
