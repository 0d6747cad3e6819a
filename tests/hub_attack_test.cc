// The attacker's HTTP and WebSocket list against a real `salvus up`
// (Python kernel): malformed and deeply nested JSON, a 100 MB frame,
// invalid UTF-8, a foreign Origin, a 1 MB header, slowloris, path traversal.
// Each is contained with a clear answer while a session opened before it
// keeps answering 2+2, and nothing is left behind when `up` stops.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/hub_client.h"
#include "compute/testing/loopback.h"
#include "util/raw_http.h"
#include "util/raw_ws.h"
#include "util/up_process.h"

namespace salvus {
namespace {

using namespace std::chrono_literals;
using testutil::RawHttp;
using testutil::RawWs;
using testutil::UpProcess;
using Clock = std::chrono::steady_clock;

constexpr int kHttpTimeoutS = 3;

class HubAttack : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    up_ = new UpProcess({"--kernel", "python", "--http-timeout", std::to_string(kHttpTimeoutS)});
    if (!up_->ok()) return;
    victim_ = testutil::ConnectTo(*up_).release();
    if (victim_ == nullptr) return;
    auto s = victim_->StartSession("python");
    if (s) session_ = new std::string(*s);
  }
  static void TearDownTestSuite() {
    if (victim_ != nullptr) victim_->Close();
    delete victim_;
    victim_ = nullptr;
    delete session_;
    session_ = nullptr;
    const std::string left = up_->Stop();
    EXPECT_EQ(left, "") << "left behind";
    delete up_;
    up_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(up_->ok()) << up_->log();
    ASSERT_NE(session_, nullptr) << "no session before the attacks";
  }

  // The session opened before any attack still answers.
  static std::string TwoPlusTwo() {
    auto r = victim_->Execute(*session_, "print(2+2)");
    return r ? r->out : "error: " + r.error();
  }
  static uint16_t port() { return up_->port(); }

  static long HubRssKb() {
    std::ifstream in("/proc/" + std::to_string(up_->pid()) + "/status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
  }

  static inline UpProcess* up_ = nullptr;
  static inline client::HubClient* victim_ = nullptr;
  static inline std::string* session_ = nullptr;
};

// True when the hub closed `fd` (EOF or reset) within `max`.
bool ClosedWithin(int fd, std::chrono::milliseconds max) {
  const auto end = Clock::now() + max;
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    const int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
    if (poll(&p, 1, std::max(left, 1)) > 0) {
      char buf[4096];
      const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
    }
  }
  return false;
}

TEST_F(HubAttack, MalformedAndDeeplyNestedJsonGetAnErrorAndTheConnectionStays) {
  RawWs ws(port());
  ASSERT_TRUE(ws.ok());
  const std::vector<std::string> bad = {
      "{",
      "not json at all",
      "{\"id\": \"1\", \"execute\": " + std::string(100000, '[') + "}",
      std::string(100000, '['),
      [] {
        std::string s;
        for (int i = 0; i < 50000; ++i) s += "{\"a\":";
        return s + "1" + std::string(50000, '}');
      }(),
      "{\"id\": \"2\", \"execute\": {\"session\": \"x\", \"code\": \"\\ud800\"}}",  // lone
                                                                                    // surrogate
      "{\"id\": \"3\", \"execute\": {\"code\": 1e999999}}",
      std::string("{\"id\": \"4\",\0 \"x\": 1}", 20),
  };
  for (const std::string& m : bad) {
    ASSERT_TRUE(ws.SendText(m));
    auto reply = ws.ReadText();
    ASSERT_TRUE(reply) << "no answer to " << m.substr(0, 60);
    EXPECT_NE(reply->find("\"BAD_REQUEST\""), std::string::npos) << *reply;
  }
  // Still the same connection, still answering.
  ASSERT_TRUE(ws.SendText(R"({"id": "9", "getShared": {"id": "nosuchid"}})"));
  auto reply = ws.ReadText();
  ASSERT_TRUE(reply);
  EXPECT_NE(reply->find("\"id\":\"9\""), std::string::npos) << *reply;
  EXPECT_EQ(TwoPlusTwo(), "4\n");
}

TEST_F(HubAttack, AHundredMegabyteFrameIsCutAt4MiBWith1009) {
  const long rss_before = HubRssKb();
  RawWs ws(port());
  ASSERT_TRUE(ws.ok());
  ASSERT_TRUE(ws.SendHeader(100u << 20));
  const std::string chunk(1 << 20, 'x');
  size_t sent = 0;
  const auto start = Clock::now();
  while (sent < (100u << 20) && ws.Write(chunk)) {
    sent += chunk.size();
    if (sent == (8u << 20)) EXPECT_EQ(TwoPlusTwo(), "4\n");  // meanwhile
  }
  EXPECT_LT(Clock::now() - start, 30s);
  std::optional<RawWs::Frame> close;
  for (auto f = ws.Read(); f; f = ws.Read()) {
    if (f->opcode == 8) {
      close = f;
      break;
    }
  }
  ASSERT_TRUE(close) << "no close frame (sent " << sent << " bytes)";
  EXPECT_EQ(close->close_code(), 1009);
  EXPECT_NE(close->payload.find("message too big"), std::string::npos) << close->payload;
  EXPECT_EQ(TwoPlusTwo(), "4\n");
  // The frame was never held whole.
  const long rss_after = HubRssKb();
  EXPECT_LT(rss_after - rss_before, 40 * 1024) << rss_before << " kB -> " << rss_after << " kB";
}

// The id in `"session":"ID"` of a JSON message ("" when none).
std::string SessionIn(const std::string& json) {
  const std::string key = "\"session\":\"";
  const size_t at = json.find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size();
  return json.substr(from, json.find('"', from) - from);
}

TEST_F(HubAttack, InvalidUtf8InATextFrameFailsTheConnectionWith1007AndEndsItsSessions) {
  auto ws = std::make_unique<RawWs>(port());
  ASSERT_TRUE(ws->ok());
  ASSERT_TRUE(ws->SendText(R"({"id": "1", "startSession": {"kernel": "python"}})"));
  std::string session;
  for (auto t = ws->ReadText(); t && session.empty(); t = ws->ReadText()) {
    if (t->find("sessionStarted") != std::string::npos) session = SessionIn(*t);
    if (!session.empty()) break;
  }
  ASSERT_FALSE(session.empty());
  ASSERT_TRUE(ws->SendText("{\"id\": \"2\", \"execute\": {\"code\": \"\xff\xfe\"}}"));
  std::optional<RawWs::Frame> f;
  for (f = ws->Read(); f && f->opcode != 8;) f = ws->Read();
  ASSERT_TRUE(f) << "no close frame";
  EXPECT_EQ(f->close_code(), 1007);
  EXPECT_TRUE(ClosedWithin(ws->fd(), 10s));
  ws.reset();  // the hub waits for the end of the connection (up to its close timeout)
  // Its session ended with it (no reconnect grace for a protocol violation).
  std::string answer;
  const auto end = Clock::now() + 10s;
  while (Clock::now() < end) {
    RawWs again(port());
    ASSERT_TRUE(again.ok());
    ASSERT_TRUE(again.SendText(R"({"id": "1", "resume": {"session": ")" + session + "\"}}"));
    auto t = again.ReadText();
    ASSERT_TRUE(t);
    answer = *t;
    if (answer.find("NOT_FOUND") != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_NE(answer.find("NOT_FOUND"), std::string::npos) << answer;
  EXPECT_EQ(TwoPlusTwo(), "4\n");
}

TEST_F(HubAttack, AForeignOriginIsRefused) {
  const std::string p = std::to_string(port());
  const std::string status = RawHttp(
      port(),
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:" + p +
          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://evil.example\r\n\r\n",
      /*status_line_only=*/true);
  EXPECT_EQ(status, "HTTP/1.1 403 Forbidden");
  EXPECT_EQ(TwoPlusTwo(), "4\n");
}

TEST_F(HubAttack, AMegabyteHeaderGets431) {
  const std::string big(1 << 20, 'a');
  for (const std::string& request :
       {"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + big + "\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: " +
            big + "\r\n\r\n",
        "GET /" + big + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"}) {
    const auto start = Clock::now();
    const std::string answer = RawHttp(port(), request);
    EXPECT_EQ(answer.substr(0, answer.find("\r\n")), "HTTP/1.1 431 Request Header Fields Too Large")
        << answer.substr(0, 200);
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
    EXPECT_LT(Clock::now() - start, 5s);
  }
  // Garbage that is not HTTP: 400, closed.
  const std::string answer = RawHttp(port(), "\x16\x03\x01 hello?\r\n\r\n");
  EXPECT_EQ(answer.substr(0, answer.find("\r\n")), "HTTP/1.1 400 Bad Request") << answer;
  EXPECT_EQ(TwoPlusTwo(), "4\n");
}

TEST_F(HubAttack, SlowlorisIsClosedAfterTheHeaderTimeoutWhileOthersAreServed) {
  const std::string request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  std::vector<int> slow;
  for (int i = 0; i < 20; ++i) {
    const int fd = testutil::ConnectLoopback(port(), 10);
    ASSERT_GE(fd, 0);
    slow.push_back(fd);
  }
  const auto start = Clock::now();
  std::vector<bool> closed(slow.size(), false);
  size_t at = 0;
  // A byte a second each, for at most 3 × the timeout.
  while (Clock::now() - start < std::chrono::seconds(3 * kHttpTimeoutS) &&
         std::count(closed.begin(), closed.end(), false) > 0) {
    for (size_t i = 0; i < slow.size(); ++i) {
      if (closed[i]) continue;
      const char c = request[at % request.size()];
      if (send(slow[i], &c, 1, MSG_NOSIGNAL) != 1) closed[i] = true;
    }
    ++at;
    if (at == 2) {  // meanwhile, others are served
      EXPECT_NE(testutil::HttpGet(port(), "/healthz").find("200 OK"), std::string::npos);
      EXPECT_EQ(TwoPlusTwo(), "4\n");
    }
    for (size_t i = 0; i < slow.size(); ++i) {
      if (!closed[i] && ClosedWithin(slow[i], i == 0 ? 1000ms : 1ms)) closed[i] = true;
    }
  }
  const auto took = Clock::now() - start;
  for (size_t i = 0; i < slow.size(); ++i) {
    EXPECT_TRUE(closed[i]) << "connection " << i << " still open";
    close(slow[i]);
  }
  EXPECT_GE(took, std::chrono::seconds(kHttpTimeoutS) - 500ms);
  EXPECT_LT(took, std::chrono::seconds(kHttpTimeoutS) + 3s);
  EXPECT_EQ(TwoPlusTwo(), "4\n");
}

TEST_F(HubAttack, PathTraversalReachesNothingOutsideThePage) {
  const std::string token = testutil::ReadFile(up_->data() + "/token");
  ASSERT_FALSE(token.empty());
  const std::string sha = std::string(40, 'a');
  const std::vector<std::string> targets = {
      "/../../../../../../etc/passwd",
      "/..%2f..%2f..%2f..%2fetc%2fpasswd",
      "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/%2e%2e%2f%2e%2e%2fdata%2ftoken",
      "/../data/token",
      "/..%2fdata%2ftoken",
      "/./../data/token",
      "//etc/passwd",
      "/index.html%00.png",
      "/assets/../../data/token",
      "/blobs/../../data/token",
      "/blobs/..%2f..%2fdata%2ftoken",
      "/blobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "/blobs/" + sha + "/../../data/token",
      "/blobs/" + sha + "%00",
      "/blobs/" + sha.substr(0, 39) + "%2f",
      "/s/../../data/token",
      "/s/..%2f..%2fdata%2ftoken",
      "/s/%2e%2e/%2e%2e/etc/passwd",
      "/s/abc%00def",
      "/s/abc/../../../data/token",
      "/s/..",
  };
  auto check = [&](const std::string& target, const std::string& answer) {
    const std::string status = answer.substr(0, answer.find("\r\n"));
    EXPECT_TRUE(status == "HTTP/1.1 404 Not Found" || status == "HTTP/1.1 400 Bad Request")
        << target << ": " << status;
    EXPECT_EQ(answer.find("root:"), std::string::npos) << target;
    EXPECT_EQ(answer.find(token.substr(0, 16)), std::string::npos) << target;
    EXPECT_EQ(answer.find("SQLite format"), std::string::npos) << target;
  };
  for (const std::string& t : targets) check(t, testutil::HttpGet(port(), t));
  // A NUL byte itself in the target.
  for (const std::string& t :
       {std::string("/\0../data/token", 15), std::string("/blobs/\0../../data/token", 24),
        std::string("/s/\0/../../data/token", 21)}) {
    check(
        "NUL in " + t.substr(0, 3),
        RawHttp(port(), "GET " + t + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  }
  EXPECT_EQ(TwoPlusTwo(), "4\n");
}

}  // namespace
}  // namespace salvus
