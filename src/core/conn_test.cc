// FramedConn's flow control: pausing the read side, the backlog marks of
// the write side, and the hard cap on what waits to be written.
#include "core/conn.h"

#include <gtest/gtest.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "proto/salvus.pb.h"

namespace salvus::core {
namespace {

using Local = asio::local::stream_protocol::socket;
using namespace std::chrono_literals;

std::string FrameOf(const std::string& body) {
  proto::Message m;
  m.mutable_output()->set_text(body);
  return EncodeFrame(m);
}

// Runs `io` until `done` or 2 s.
template <class F>
bool RunUntil(asio::io_context& io, F done) {
  const auto end = std::chrono::steady_clock::now() + 2s;
  while (!done() && std::chrono::steady_clock::now() < end) {
    io.run_for(5ms);
    io.restart();
  }
  return done();
}

TEST(FramedConn, APausedReaderHandsNothingOnUntilResumed) {
  asio::io_context io;
  Local a(io), b(io);
  asio::local::connect_pair(a, b);
  auto reader = std::make_shared<FramedConn<Local>>(std::move(a), "a", kDefaultMaxFrame);
  auto writer = std::make_shared<FramedConn<Local>>(std::move(b), "b", kDefaultMaxFrame);
  int frames = 0;
  reader->Start({[&](std::string_view) {
                   ++frames;
                   reader->PauseReading();  // one at a time
                 },
                 {}});
  writer->Start({[](std::string_view) {}, {}});
  for (int i = 0; i < 3; ++i) writer->Send(FrameOf("x"));
  ASSERT_TRUE(RunUntil(io, [&] { return frames == 1; }));
  io.run_for(50ms);
  io.restart();
  EXPECT_EQ(frames, 1);  // the other two were read already, and wait
  reader->ResumeReading();
  ASSERT_TRUE(RunUntil(io, [&] { return frames == 2; }));
  reader->ResumeReading();
  ASSERT_TRUE(RunUntil(io, [&] { return frames == 3; }));
  reader->Close();
  writer->Close();
  io.run_for(10ms);
}

TEST(FramedConn, TheWriterLearnsWhenItsQueueBacksUpAndWhenItDrains) {
  asio::io_context io;
  Local a(io), b(io);
  asio::local::connect_pair(a, b);
  auto reader = std::make_shared<FramedConn<Local>>(std::move(a), "a", kDefaultMaxFrame);
  auto writer = std::make_shared<FramedConn<Local>>(std::move(b), "b", kDefaultMaxFrame);
  std::vector<bool> told;
  writer->SetBacklogMarks(1 << 20, 1 << 19, [&](bool up) { told.push_back(up); });
  size_t got = 0;
  reader->Start({[&](std::string_view) { ++got; }, {}});
  reader->PauseReading();  // reads nothing: the socket buffers fill, then the queue
  writer->Start({[](std::string_view) {}, {}});
  const std::string chunk(64 << 10, 'y');
  size_t sent = 0;
  while (told.empty() && sent < 1000) {
    writer->Send(FrameOf(chunk));
    ++sent;
    io.run_for(1ms);
    io.restart();
  }
  ASSERT_EQ(told, std::vector<bool>{true});
  EXPECT_GE(writer->queued_bytes(), size_t{1} << 20);
  reader->ResumeReading();
  ASSERT_TRUE(RunUntil(io, [&] { return told.size() == 2; }));
  EXPECT_EQ(told, (std::vector<bool>{true, false}));
  ASSERT_TRUE(RunUntil(io, [&] { return got == sent; }));
  reader->Close();
  writer->Close();
  io.run_for(10ms);
}

TEST(FramedConn, APeerThatReadsNothingIsCutPastTheCap) {
  asio::io_context io;
  Local a(io), b(io);
  asio::local::connect_pair(a, b);
  auto reader = std::make_shared<FramedConn<Local>>(std::move(a), "a", kDefaultMaxFrame);
  auto writer = std::make_shared<FramedConn<Local>>(std::move(b), "b", kDefaultMaxFrame);
  writer->set_max_queued(1 << 20);
  std::optional<ConnEnd> end;
  reader->Start({[](std::string_view) {}, {}});
  reader->PauseReading();
  writer->Start({[](std::string_view) {}, [&](ConnEnd e) { end = e; }});
  const std::string chunk(64 << 10, 'z');
  for (int i = 0; i < 1000 && !writer->closed(); ++i) {
    writer->Send(FrameOf(chunk));
    io.run_for(1ms);
    io.restart();
  }
  EXPECT_TRUE(writer->closed());
  ASSERT_TRUE(RunUntil(io, [&] { return end.has_value(); }));
  EXPECT_EQ(*end, ConnEnd::kOverflow);
  reader->Close();
  io.run_for(10ms);
}

}  // namespace
}  // namespace salvus::core
