#include "compute/output.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "core/frame.h"

namespace salvus::compute {
namespace {

struct Collected {
  std::string out, err;
  int frames = 0;
  bool done = false;
};

// Reads frames until a Done (or EOF).
Collected ReadUntilDone(int fd) {
  Collected c;
  std::string body;
  while (core::ReadFrame(fd, &body) == core::ReadStatus::kOk) {
    proto::Message m;
    EXPECT_TRUE(m.ParseFromString(body));
    if (m.has_output()) {
      ++c.frames;
      EXPECT_EQ(m.id(), 7u);
      EXPECT_EQ(m.output().session(), "s");
      (m.output().stream() == proto::Output::STDERR ? c.err : c.out) += m.output().text();
    }
    if (m.has_done()) {
      c.done = true;
      break;
    }
  }
  return c;
}

proto::Message Done() {
  proto::Message m;
  m.set_id(7);
  m.mutable_done()->set_session("s");
  return m;
}

class OutputChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv_), 0);
    timeval tv{5, 0};  // a missing frame fails the test instead of hanging it
    setsockopt(sv_[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ASSERT_EQ(pipe(out_), 0);
    ASSERT_EQ(pipe(err_), 0);
    signal(SIGINT, SIG_IGN);  // the channel interrupts its own process on overflow
  }
  void TearDown() override {
    for (int fd : {sv_[0], sv_[1], out_[0], out_[1], err_[0], err_[1]}) close(fd);
  }
  int sv_[2], out_[2], err_[2];
};

TEST_F(OutputChannelTest, ManySmallWritesCoalesceAndKeepOrder) {
  std::string expected;
  std::thread reader;
  Collected c;
  {
    OutputChannel ch(sv_[0], out_[0], err_[0]);
    ch.Start();
    ch.BeginRequest(7, "s", 0);
    reader = std::thread([&] { c = ReadUntilDone(sv_[1]); });
    for (int i = 0; i < 10000; ++i) {
      std::string line = std::to_string(i) + "\n";
      expected += line;
      ch.Write(proto::Output::STDOUT, line);
    }
    ch.SendFrame(Done());
    reader.join();
  }
  EXPECT_TRUE(c.done);
  EXPECT_EQ(c.out, expected);
  EXPECT_LT(c.frames, 100);  // 10,000 lines in a handful of frames
}

TEST_F(OutputChannelTest, LoneLineIsSentWithoutAFlush) {
  OutputChannel ch(sv_[0], out_[0], err_[0]);
  ch.Start();
  ch.BeginRequest(7, "s", 0);
  ch.Write(proto::Output::STDOUT, "tick\n");
  // No Flush: the pump must send it within its coalescing interval.
  std::string body;
  ASSERT_EQ(core::ReadFrame(sv_[1], &body), core::ReadStatus::kOk);
  proto::Message m;
  ASSERT_TRUE(m.ParseFromString(body));
  EXPECT_EQ(m.output().text(), "tick\n");
}

TEST_F(OutputChannelTest, PipesAreCapturedAndInvalidUtf8Repaired) {
  OutputChannel ch(sv_[0], out_[0], err_[0]);
  ch.Start();
  ch.BeginRequest(7, "s", 0);
  ASSERT_EQ(write(out_[1], "c-level \xff\n", 10), 10);
  ASSERT_EQ(write(err_[1], "oops\n", 5), 5);
  ch.Write(proto::Output::STDOUT, "split \xE2\x82");
  ch.Write(proto::Output::STDOUT, "\xAC ok\n");
  ch.SendFrame(Done());
  Collected c = ReadUntilDone(sv_[1]);
  EXPECT_NE(c.out.find("c-level \xEF\xBF\xBD\n"), std::string::npos);
  EXPECT_NE(c.out.find("split € ok\n"), std::string::npos);
  EXPECT_EQ(c.err, "oops\n");
}

TEST_F(OutputChannelTest, CapCutsOutputWithANotice) {
  OutputChannel ch(sv_[0], out_[0], err_[0]);
  ch.Start();
  ch.BeginRequest(7, "s", 1000);
  std::thread reader;
  Collected c;
  reader = std::thread([&] { c = ReadUntilDone(sv_[1]); });
  std::string chunk(100, 'x');
  int accepted = 0;
  for (int i = 0; i < 50; ++i) accepted += ch.Write(proto::Output::STDOUT, chunk) ? 1 : 0;
  EXPECT_TRUE(ch.overflowed());
  EXPECT_EQ(accepted, 10);  // exactly the cap fits; the 11th write overflows
  ch.SendFrame(Done());
  reader.join();
  EXPECT_EQ(c.out.size(), 1000u);
  EXPECT_NE(c.err.find("output truncated"), std::string::npos);
  ch.BeginRequest(7, "s", 1000);  // the next request starts afresh
  EXPECT_FALSE(ch.overflowed());
}

}  // namespace
}  // namespace salvus::compute

namespace salvus::compute {
namespace {

// C-level output keeps streaming after an earlier request's output was
// flushed (the pump must not be left waiting on a disarmed timer).
TEST_F(OutputChannelTest, PipeOutputStreamsInALaterRequest) {
  OutputChannel ch(sv_[0], out_[0], err_[0]);
  ch.Start();
  ch.BeginRequest(7, "s", 0);
  ASSERT_EQ(write(out_[1], "first\n", 6), 6);
  // Let the pump take it in (arming its timer), then end the request early.
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ch.SendFrame(Done());
  Collected c = ReadUntilDone(sv_[1]);
  EXPECT_EQ(c.out, "first\n");
  ch.BeginRequest(7, "s", 0);
  ASSERT_EQ(write(out_[1], "from C\n", 7), 7);
  // No flush: the pump alone must deliver it.
  std::string body;
  ASSERT_EQ(core::ReadFrame(sv_[1], &body), core::ReadStatus::kOk);
  proto::Message m;
  ASSERT_TRUE(m.ParseFromString(body));
  EXPECT_EQ(m.output().text(), "from C\n");
}

}  // namespace
}  // namespace salvus::compute
