// Fuzz target: core/frame and the read loop of core/conn.h (what every
// process reads from its peers, the compute server from anyone before
// `hello`). The same bytes go through the three readers: ReadFrame and
// FrameReader on a file, FramedConn on a Unix socket. They must see the same
// frames and the same end (the frame limit comes from the input too), and
// every frame body goes to the protobuf parser as the receivers do.
#include <sys/mman.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/conn.h"
#include "core/frame.h"
#include "fuzz_check.h"
#include "proto/salvus.pb.h"

namespace {

namespace asio = boost::asio;
using salvus::core::ReadStatus;

// The end of a stream as the three readers say it: 0 clean end, 1 too big,
// 2 cut short.
struct Frames {
  std::vector<std::string> bodies;
  int end = -1;
};

int EndOf(ReadStatus s) { return s == ReadStatus::kEof ? 0 : s == ReadStatus::kTooBig ? 1 : 2; }

int MemFile(const std::string& bytes) {
  const int fd = memfd_create("frames", MFD_CLOEXEC);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(salvus::core::WriteAll(fd, bytes));
  FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
  return fd;
}

Frames WithReadFrame(const std::string& bytes, size_t max) {
  Frames f;
  const int fd = MemFile(bytes);
  std::string body;
  ReadStatus s;
  while ((s = salvus::core::ReadFrame(fd, &body, max)) == ReadStatus::kOk) f.bodies.push_back(body);
  f.end = EndOf(s);
  close(fd);
  return f;
}

Frames WithFrameReader(const std::string& bytes, size_t max) {
  Frames f;
  const int fd = MemFile(bytes);
  salvus::core::FrameReader reader(fd, max);
  std::string body;
  ReadStatus s;
  while ((s = reader.Next(&body)) == ReadStatus::kOk) f.bodies.push_back(body);
  f.end = EndOf(s);
  close(fd);
  return f;
}

Frames WithFramedConn(const std::string& bytes, size_t max) {
  using Socket = asio::local::stream_protocol::socket;
  static asio::io_context io;  // one for every input: making one costs more than the rest
  io.restart();
  Socket ours(io), theirs(io);
  asio::local::connect_pair(ours, theirs);
  asio::write(theirs, asio::buffer(bytes));  // fits the socket's buffer (inputs are small)
  theirs.shutdown(Socket::shutdown_send);
  Frames f;
  auto conn = std::make_shared<salvus::core::FramedConn<Socket>>(std::move(ours), "fuzz", max);
  conn->Start({.on_frame = [&](std::string_view body) { f.bodies.emplace_back(body); },
               .on_end =
                   [&](salvus::core::ConnEnd e) {
                     f.end = e == salvus::core::ConnEnd::kEof      ? 0
                             : e == salvus::core::ConnEnd::kTooBig ? 1
                                                                   : 2;
                     conn->Close();
                   }});
  io.run();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 64 * 1024) return 0;
  // The first byte picks the frame limit: small ones, so that "too big" is
  // reached, and the real one.
  const size_t max = data[0] == 0xFF ? salvus::core::kDefaultMaxFrame : data[0] * size_t{7};
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  const Frames a = WithReadFrame(bytes, max);
  const Frames b = WithFrameReader(bytes, max);
  const Frames c = WithFramedConn(bytes, max);
  FUZZ_CHECK(a.end >= 0 && b.end >= 0 && c.end >= 0);
  FUZZ_CHECK(a.bodies == b.bodies && a.end == b.end);
  FUZZ_CHECK(a.bodies == c.bodies && a.end == c.end);
  size_t total = 0;
  for (const std::string& body : a.bodies) {
    FUZZ_CHECK(body.size() <= max);
    total += salvus::core::kFrameHeaderSize + body.size();
    salvus::proto::Message m;
    if (m.ParseFromString(body)) {
      // What a receiver may send back: it frames and reads again the same.
      const std::string again = salvus::core::EncodeFrame(m);
      FUZZ_CHECK(WithReadFrame(again, again.size()).bodies.size() == 1);
    }
  }
  FUZZ_CHECK(total <= bytes.size());
  return 0;
}
