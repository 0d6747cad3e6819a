#include "core/frame.h"

#include <google/protobuf/message_lite.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
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

ReadStatus FrameReader::Next(std::string* body) {
  constexpr size_t kChunk = 16 * 1024;
  for (;;) {
    size_t need = kFrameHeaderSize;
    if (end_ - begin_ >= kFrameHeaderSize) {
      const uint32_t len =
          DecodeFrameLength(reinterpret_cast<const unsigned char*>(buf_.data() + begin_));
      if (len > max_) return ReadStatus::kTooBig;
      need += len;
      if (end_ - begin_ >= need) {
        body->assign(buf_, begin_ + kFrameHeaderSize, len);
        begin_ += need;
        if (begin_ == end_) begin_ = end_ = 0;
        return ReadStatus::kOk;
      }
    }
    // Room for the whole frame, and for a full chunk after what is here.
    if (begin_ > 0) {
      buf_.erase(0, begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == 0 && buf_.size() > 4 * kChunk) {  // a big frame passed: give it back
      std::string().swap(buf_);
    }
    if (buf_.size() < std::max(need, end_ + kChunk)) buf_.resize(std::max(need, end_ + kChunk));
    pollfd input = {fd_, POLLIN, 0};
    if (::poll(&input, 1, -1) < 0) {
      if (errno == EINTR) continue;
      return ReadStatus::kIoError;
    }
    const ssize_t r = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (r > 0) {
      end_ += static_cast<size_t>(r);
    } else if (r == 0) {
      return end_ == 0 ? ReadStatus::kEof : ReadStatus::kIoError;
    } else if (errno != EINTR) {
      return ReadStatus::kIoError;
    }
  }
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
