#include "core/frame.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "proto/salvus.pb.h"

namespace salvus::core {

TEST(Frame, RoundTripOverSocketPair) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  proto::Message m;
  m.set_id(42);
  m.mutable_execute()->set_session("s1");
  m.mutable_execute()->set_code("factor(2^64+1)");
  ASSERT_TRUE(WriteAll(fds[0], EncodeFrame(m)));
  std::string body;
  ASSERT_EQ(ReadFrame(fds[1], &body), ReadStatus::kOk);
  proto::Message got;
  ASSERT_TRUE(got.ParseFromString(body));
  EXPECT_EQ(got.id(), 42u);
  EXPECT_EQ(got.execute().code(), "factor(2^64+1)");
  close(fds[0]);
  EXPECT_EQ(ReadFrame(fds[1], &body), ReadStatus::kEof);
  close(fds[1]);
}

TEST(Frame, HeaderIsBigEndianLength) {
  proto::Message m;
  m.set_id(1);
  std::string f = EncodeFrame(m);
  ASSERT_GE(f.size(), kFrameHeaderSize);
  EXPECT_EQ(DecodeFrameLength(reinterpret_cast<const unsigned char*>(f.data())),
            f.size() - kFrameHeaderSize);
  const unsigned char h[4] = {0x01, 0x02, 0x03, 0x04};
  EXPECT_EQ(DecodeFrameLength(h), 0x01020304u);
}

TEST(Frame, OversizedAndTruncatedFramesAreErrors) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const unsigned char huge[4] = {0x7f, 0xff, 0xff, 0xff};
  ASSERT_TRUE(WriteAll(fds[0], std::string_view(reinterpret_cast<const char*>(huge), 4)));
  std::string body;
  EXPECT_EQ(ReadFrame(fds[1], &body, 1024), ReadStatus::kTooBig);
  const unsigned char ten[4] = {0, 0, 0, 10};
  ASSERT_TRUE(WriteAll(fds[0], std::string_view(reinterpret_cast<const char*>(ten), 4)));
  ASSERT_TRUE(WriteAll(fds[0], "abc"));
  close(fds[0]);
  EXPECT_EQ(ReadFrame(fds[1], &body, 1024), ReadStatus::kIoError);
  close(fds[1]);
}

std::string Body(size_t n, char c) { return FrameBody(std::string(n, c)); }

TEST(FrameReader, SeveralFramesFromOneWriteComeOutOneByOne) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  ASSERT_TRUE(WriteAll(fds[0], Body(3, 'a') + Body(0, 'x') + Body(5, 'b')));
  FrameReader reader(fds[1]);
  std::string body;
  ASSERT_EQ(reader.Next(&body), ReadStatus::kOk);
  EXPECT_EQ(body, "aaa");
  ASSERT_EQ(reader.Next(&body), ReadStatus::kOk);
  EXPECT_EQ(body, "");
  ASSERT_EQ(reader.Next(&body), ReadStatus::kOk);
  EXPECT_EQ(body, "bbbbb");
  close(fds[0]);
  EXPECT_EQ(reader.Next(&body), ReadStatus::kEof);
  close(fds[1]);
}

TEST(FrameReader, FramesCutAnywhereAndBigFramesAreWholeAndInOrder) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  std::vector<std::string> sent;
  std::string stream;
  for (size_t i = 0; i < 40; ++i) {
    sent.push_back(std::string(i % 8 == 0 ? 300000 + i : i * 37, static_cast<char>('a' + i % 26)));
    stream += FrameBody(sent.back());
  }
  // Written in pieces of every size from 1 byte up, from another thread.
  std::thread writer([&] {
    size_t at = 0;
    for (size_t piece = 1; at < stream.size(); piece = piece * 3 % 70001 + 1) {
      const size_t n = std::min(piece, stream.size() - at);
      ASSERT_TRUE(WriteAll(fds[0], std::string_view(stream).substr(at, n)));
      at += n;
    }
    close(fds[0]);
  });
  FrameReader reader(fds[1]);
  std::string body;
  for (size_t i = 0; i < sent.size(); ++i) {
    ASSERT_EQ(reader.Next(&body), ReadStatus::kOk) << i;
    ASSERT_EQ(body, sent[i]) << i;
  }
  EXPECT_EQ(reader.Next(&body), ReadStatus::kEof);
  writer.join();
  close(fds[1]);
}

TEST(FrameReader, OversizedAndTruncatedFramesAreErrors) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const unsigned char huge[4] = {0x7f, 0xff, 0xff, 0xff};
  ASSERT_TRUE(WriteAll(fds[0], std::string_view(reinterpret_cast<const char*>(huge), 4)));
  std::string body;
  EXPECT_EQ(FrameReader(fds[1], 1024).Next(&body), ReadStatus::kTooBig);
  const unsigned char ten[4] = {0, 0, 0, 10};
  ASSERT_TRUE(WriteAll(fds[0], std::string_view(reinterpret_cast<const char*>(ten), 4)));
  ASSERT_TRUE(WriteAll(fds[0], "abc"));
  close(fds[0]);
  EXPECT_EQ(FrameReader(fds[1], 1024).Next(&body), ReadStatus::kIoError);
  close(fds[1]);
}

}  // namespace salvus::core
