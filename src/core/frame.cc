#include "core/frame.h"

#include <google/protobuf/message_lite.h>
#include <unistd.h>

#include <cerrno>

namespace salvus::core {

void AppendFrame(const google::protobuf::MessageLite& msg, std::string* out) {
  const size_t size = msg.ByteSizeLong();
  const size_t start = out->size();
  out->resize(start + kFrameHeaderSize + size);
  auto* p = reinterpret_cast<unsigned char*>(out->data() + start);
  p[0] = static_cast<unsigned char>(size >> 24);
  p[1] = static_cast<unsigned char>(size >> 16);
  p[2] = static_cast<unsigned char>(size >> 8);
  p[3] = static_cast<unsigned char>(size);
  msg.SerializeWithCachedSizesToArray(p + kFrameHeaderSize);
}

std::string EncodeFrame(const google::protobuf::MessageLite& msg) {
  std::string out;
  AppendFrame(msg, &out);
  return out;
}

std::string FrameBody(std::string_view body) {
  std::string out(kFrameHeaderSize + body.size(), '\0');
  const size_t size = body.size();
  out[0] = static_cast<char>(size >> 24);
  out[1] = static_cast<char>(size >> 16);
  out[2] = static_cast<char>(size >> 8);
  out[3] = static_cast<char>(size);
  out.replace(kFrameHeaderSize, size, body);
  return out;
}

uint32_t DecodeFrameLength(const unsigned char h[kFrameHeaderSize]) {
  return (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | uint32_t{h[3]};
}

namespace {
// 1 on success, 0 on clean EOF before any byte, -1 on error or short read.
int ReadExactly(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r == 0) {
      return got == 0 ? 0 : -1;
    } else if (errno != EINTR) {
      return -1;
    }
  }
  return 1;
}
}  // namespace

ReadStatus ReadFrame(int fd, std::string* body, size_t max_frame) {
  unsigned char header[kFrameHeaderSize];
  int r = ReadExactly(fd, reinterpret_cast<char*>(header), sizeof header);
  if (r == 0) return ReadStatus::kEof;
  if (r < 0) return ReadStatus::kIoError;
  const uint32_t len = DecodeFrameLength(header);
  if (len > max_frame) return ReadStatus::kTooBig;
  body->resize(len);
  if (len > 0 && ReadExactly(fd, body->data(), len) != 1) return ReadStatus::kIoError;
  return ReadStatus::kOk;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t w = ::write(fd, data.data(), data.size());
    if (w >= 0) {
      data.remove_prefix(static_cast<size_t>(w));
    } else if (errno != EINTR) {
      return false;
    }
  }
  return true;
}

}  // namespace salvus::core
