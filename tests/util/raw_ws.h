// Test helper: a WebSocket spoken by hand over a loopback TCP connection, to
// send what no WebSocket library would (invalid UTF-8 in a text frame, a
// frame that announces 100 MB, unfinished frames). Blocking; reads and
// writes time out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace salvus::testutil {

class RawWs {
 public:
  struct Frame {
    int opcode = 0;  // 1 text, 2 binary, 8 close, ...
    std::string payload;
    // For a close frame: its code (0 when it carries none).
    int close_code() const;
  };

  // Upgrades a fresh connection to 127.0.0.1:`port` at /ws (no Origin).
  // ok() says whether the hub answered 101.
  explicit RawWs(uint16_t port, int timeout_s = 10);
  ~RawWs();
  RawWs(const RawWs&) = delete;
  RawWs& operator=(const RawWs&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // One final, masked frame (the mask key is 0: the bytes go as given).
  bool Send(int opcode, std::string_view payload);
  bool SendText(std::string_view text) { return Send(1, text); }
  // The header of a masked text frame announcing `length` bytes, alone.
  bool SendHeader(uint64_t length);
  // Raw bytes on the connection.
  bool Write(std::string_view bytes);

  // The next frame from the hub; nullopt when the connection ends or the
  // read times out.
  std::optional<Frame> Read();
  // The next text frame (skipping others), nullopt as Read.
  std::optional<std::string> ReadText();

 private:
  bool ReadExactly(char* p, size_t n);
  int fd_ = -1;
};

}  // namespace salvus::testutil
