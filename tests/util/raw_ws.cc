#include "util/raw_ws.h"

#include <sys/socket.h>
#include <unistd.h>

#include "compute/testing/loopback.h"

namespace salvus::testutil {

int RawWs::Frame::close_code() const {
  if (opcode != 8 || payload.size() < 2) return 0;
  return (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
}

RawWs::RawWs(uint16_t port, int timeout_s) {
  fd_ = ConnectLoopback(port, timeout_s);
  if (fd_ < 0) return;
  timeval tv{timeout_s, 0};
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const std::string upgrade =
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  std::string answer;
  char c;
  // Byte by byte up to the blank line: nothing of a first frame is eaten.
  if (Write(upgrade)) {
    while (answer.find("\r\n\r\n") == std::string::npos && answer.size() < 4096 &&
           read(fd_, &c, 1) == 1) {
      answer.push_back(c);
    }
  }
  if (answer.rfind("HTTP/1.1 101", 0) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

RawWs::~RawWs() {
  if (fd_ >= 0) close(fd_);
}

bool RawWs::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(n);
  }
  return true;
}

namespace {

std::string Header(int opcode, uint64_t length) {
  std::string h;
  h.push_back(static_cast<char>(0x80 | opcode));
  if (length < 126) {
    h.push_back(static_cast<char>(0x80 | length));
  } else if (length < 65536) {
    h.push_back(static_cast<char>(0x80 | 126));
    h.push_back(static_cast<char>(length >> 8));
    h.push_back(static_cast<char>(length));
  } else {
    h.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>(length >> (8 * i)));
  }
  h.append(4, '\0');  // the mask key: 0, so the payload goes as it is
  return h;
}

}  // namespace

bool RawWs::Send(int opcode, std::string_view payload) {
  return Write(Header(opcode, payload.size())) && Write(payload);
}

bool RawWs::SendHeader(uint64_t length) { return Write(Header(1, length)); }

bool RawWs::ReadExactly(char* p, size_t n) {
  while (n > 0) {
    const ssize_t got = read(fd_, p, n);
    if (got <= 0) return false;
    p += got;
    n -= got;
  }
  return true;
}

std::optional<RawWs::Frame> RawWs::Read() {
  unsigned char h[2];
  if (!ReadExactly(reinterpret_cast<char*>(h), 2)) return std::nullopt;
  uint64_t length = h[1] & 0x7f;
  if (length >= 126) {
    unsigned char ext[8];
    const size_t n = length == 126 ? 2 : 8;
    if (!ReadExactly(reinterpret_cast<char*>(ext), n)) return std::nullopt;
    length = 0;
    for (size_t i = 0; i < n; ++i) length = (length << 8) | ext[i];
  }
  if (length > (64u << 20)) return std::nullopt;  // not from this hub
  Frame f;
  f.opcode = h[0] & 0x0f;
  f.payload.resize(length);
  if (!ReadExactly(f.payload.data(), length)) return std::nullopt;
  return f;
}

std::optional<std::string> RawWs::ReadText() {
  for (;;) {
    auto f = Read();
    if (!f) return std::nullopt;
    if (f->opcode == 1) return std::move(f->payload);
    if (f->opcode == 8) return std::nullopt;
  }
}

}  // namespace salvus::testutil
