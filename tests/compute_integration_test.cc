// `salvus compute` end to end: real binary, real Sage, real sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "compute/testing/loopback.h"
#include "core/frame.h"
#include "util/compute_process.h"

namespace salvus {
namespace {

using testutil::ComputeProcess;
using Clock = std::chrono::steady_clock;

// One Sage compute server for the suite (starting Sage takes seconds).
class ComputeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ComputeProcess({"--pool", "2"}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_->ok()) << server_->log(); }

  std::unique_ptr<compute::ComputeClient> Connect() {
    auto c = server_->Connect();
    EXPECT_NE(c, nullptr);
    return c;
  }
  static ComputeProcess* server_;
};
ComputeProcess* ComputeTest::server_ = nullptr;

// A raw TCP connection for sending bytes no well-behaved client would.
class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = testutil::ConnectLoopback(port, 10);
    connected_ = fd_ != -1;
  }
  ~RawConn() { close(fd_); }
  bool connected() const { return connected_; }
  bool Write(std::string_view data) { return core::WriteAll(fd_, data); }
  bool Send(const proto::Message& m) { return Write(core::EncodeFrame(m)); }
  // Next message; nullopt on EOF / error / timeout.
  std::optional<proto::Message> Receive() {
    std::string body;
    if (core::ReadFrame(fd_, &body) != core::ReadStatus::kOk) return std::nullopt;
    proto::Message m;
    if (!m.ParseFromString(body)) return std::nullopt;
    return m;
  }
  bool Hello(const std::string& token) {
    proto::Message m;
    m.set_id(1);
    m.mutable_hello()->set_token(token);
    Send(m);
    auto r = Receive();
    return r && r->has_hello_ok();
  }

 private:
  int fd_;
  bool connected_ = false;
};

TEST_F(ComputeTest, SageBasicsAndStatePersists) {
  auto c = Connect();
  auto s = c->StartSession("sage");
  ASSERT_TRUE(s) << s.error();
  auto r = c->Execute(*s, "factor(2^64+1)");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, proto::Done::OK) << r->err;
  EXPECT_EQ(r->out, "274177 * 67280421310721\n");
  r = c->Execute(*s, "2^10");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "1024\n");
  r = c->Execute(*s, "x = 5");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "");
  r = c->Execute(*s, "x + 1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "6\n");
}

TEST_F(ComputeTest, ExceptionStopsTheCellAndNamesItsLine) {
  auto c = Connect();
  auto s = c->StartSession("");
  ASSERT_TRUE(s) << s.error();
  auto r = c->Execute(*s, "print('before')\ny = 1\nundefined_name + y\nprint('after')");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, proto::Done::ERROR);
  EXPECT_EQ(r->out, "before\n");
  EXPECT_NE(r->err.find("line 3"), std::string::npos) << r->err;
  EXPECT_NE(r->err.find("undefined_name + y"), std::string::npos) << r->err;
  EXPECT_NE(r->err.find("NameError"), std::string::npos) << r->err;
  r = c->Execute(*s, "y + 1");  // the session lives on
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "2\n");
}

TEST_F(ComputeTest, TenThousandLinesThenDoneTwoHundredTimes) {
  auto c = Connect();
  auto s = c->StartSession("sage");
  ASSERT_TRUE(s) << s.error();
  std::string expected;
  for (int i = 0; i < 10000; ++i) expected += std::to_string(i) + "\n";
  for (int round = 0; round < 200; ++round) {
    auto r = c->Execute(*s, "for i in range(10^4): print(i)");
    ASSERT_TRUE(r) << r.error();
    ASSERT_EQ(r->status, proto::Done::OK) << "round " << round << ": " << r->err;
    ASSERT_EQ(r->out.size(), expected.size()) << "round " << round;
    ASSERT_EQ(r->out, expected) << "round " << round;
  }
}

TEST_F(ComputeTest, OutputStreamsAsItIsProduced) {
  auto c = Connect();
  auto s = c->StartSession("sage");
  ASSERT_TRUE(s) << s.error();
  std::vector<Clock::time_point> arrivals;
  const auto start = Clock::now();
  auto r = c->Execute(*s, "import time\nfor i in range(3):\n    print(i)\n    time.sleep(1)",
                      [&](const proto::Output&) { arrivals.push_back(Clock::now()); });
  const auto done = Clock::now();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "0\n1\n2\n");
  ASSERT_EQ(arrivals.size(), 3u) << "each line in a frame of its own";
  // The first line is shown long before the cell ends (it sleeps 3 s in all).
  EXPECT_LT(arrivals[0] - start, std::chrono::milliseconds(1500));
  EXPECT_GT(done - arrivals[0], std::chrono::milliseconds(1500));
}

TEST_F(ComputeTest, InterruptStopsALoopAndTheSessionAnswersNext) {
  auto c = Connect();
  auto s = c->StartSession("sage");
  ASSERT_TRUE(s) << s.error();
  ASSERT_TRUE(c->Execute(*s, "z = 41"));
  proto::Message ex;
  ex.mutable_execute()->set_session(*s);
  ex.mutable_execute()->set_code("while True: pass");
  const uint64_t id = c->Request(ex);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  proto::Message in;
  in.mutable_interrupt()->set_session(*s);
  const auto sent = Clock::now();
  c->Request(in);
  std::optional<proto::Message> done;
  for (int i = 0; i < 10 && !done; ++i) {
    auto m = c->Receive();
    ASSERT_TRUE(m) << m.error();
    if (m->id() == id && m->has_done()) done = *m;
  }
  ASSERT_TRUE(done);
  EXPECT_LT(Clock::now() - sent, std::chrono::seconds(1));
  EXPECT_EQ(done->done().status(), proto::Done::INTERRUPTED);
  auto r = c->Execute(*s, "z + 1");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, proto::Done::OK);
  EXPECT_EQ(r->out, "42\n");
}

// An interrupt that reaches the worker before its cell starts (the worker
// is stopped here, so it certainly does) stops that cell as it starts: it
// is not dropped as one left over from the cell before.
TEST_F(ComputeTest, AnInterruptThatArrivesBeforeItsCellStartsStopsIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: sessions must run as uids of their own";
  auto c = Connect();
  auto s = c->StartSession("sage");
  ASSERT_TRUE(s) << s.error();
  auto who = c->Execute(*s, "import os; os.getuid()");
  ASSERT_TRUE(who && who->status == proto::Done::OK) << (who ? who->err : who.error());
  const auto pids = testutil::ProcessesWithUids(static_cast<uid_t>(std::stoul(who->out)), 1);
  ASSERT_EQ(pids.size(), 1u) << "the session's worker alone runs as its uid";
  ASSERT_EQ(kill(pids[0], SIGSTOP), 0);
  proto::Message ex;
  ex.mutable_execute()->set_session(*s);
  ex.mutable_execute()->set_code("import time; time.sleep(30)");
  const uint64_t id = c->Request(ex);
  proto::Message in;
  in.mutable_interrupt()->set_session(*s);
  const uint64_t in_id = c->Request(in);
  for (bool acked = false; !acked;) {
    auto m = c->Receive();
    ASSERT_TRUE(m) << m.error();
    acked = m->id() == in_id && m->has_ack();
  }
  // The zygote signals the worker right after the ack; a SIGINT sent to a
  // stopped process waits for it to go on. (Were it later, it would stop
  // the running cell all the same.)
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(kill(pids[0], SIGCONT), 0);
  std::optional<proto::Message> done;
  while (!done) {
    auto m = c->Receive();
    ASSERT_TRUE(m) << m.error();
    if (m->id() == id && m->has_done()) done = *m;
  }
  EXPECT_EQ(done->done().status(), proto::Done::INTERRUPTED) << done->DebugString();
  auto next = c->Execute(*s, "1 + 1");
  ASSERT_TRUE(next) << next.error();
  EXPECT_EQ(next->status, proto::Done::OK);
  EXPECT_EQ(next->out, "2\n");
}

TEST_F(ComputeTest, InvalidUtf8OutputIsReplacedNotFatal) {
  auto c = Connect();
  auto s = c->StartSession("sage");
  ASSERT_TRUE(s);
  auto r =
      c->Execute(*s, "import os\nos.write(1, b'bad \\xff\\xfe bytes\\n')\nprint('\\udcff ok')");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, proto::Done::OK) << r->err;
  EXPECT_NE(r->out.find("bad \xEF\xBF\xBD\xEF\xBF\xBD bytes\n"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("ok"), std::string::npos);
}

TEST_F(ComputeTest, OutputCapCutsWithANoticeAndEndsInDone) {
  auto c = Connect();
  proto::Message st;
  st.mutable_start_session()->mutable_limits()->set_output_bytes(100000);
  const uint64_t sid = c->Request(st);
  std::string session;
  for (;;) {
    auto m = c->Receive();
    ASSERT_TRUE(m);
    if (m->id() == sid) {
      ASSERT_TRUE(m->has_session_started());
      session = m->session_started().session();
      break;
    }
  }
  auto r = c->Execute(session, "while True: print('flood' * 20)");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, proto::Done::ERROR);
  EXPECT_LE(r->out.size(), 100000u);
  EXPECT_GT(r->out.size(), 90000u);
  EXPECT_NE(r->err.find("output truncated"), std::string::npos);
  r = c->Execute(session, "'still ' + 'here'");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "'still here'\n");
}

TEST_F(ComputeTest, CrashingWorkerEndsItsRequestAndTheServerServesOn) {
  auto c = Connect();
  auto s = c->StartSession("sage");
  ASSERT_TRUE(s);
  // 0r: a Python int (Sage would preparse 0 into an Integer, which ctypes refuses).
  auto r = c->Execute(*s, "import ctypes; ctypes.string_at(0r)");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, proto::Done::DIED);
  EXPECT_NE(r->text.find("Segmentation fault"), std::string::npos) << r->text;
  // The dead session is gone: a clear error, not a hang.
  auto again = c->Execute(*s, "1");
  EXPECT_FALSE(again.has_value() && again->status == proto::Done::OK);
  auto c2 = Connect();
  auto s2 = c2->StartSession("sage");
  ASSERT_TRUE(s2) << s2.error();
  r = c2->Execute(*s2, "1+1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "2\n");
}

TEST_F(ComputeTest, WrongTokenIsRefusedAndLogged) {
  auto o = server_->client_options();
  o.token = "not-the-token-0123456789";
  auto c = compute::ComputeClient::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("refused"), std::string::npos) << c.error();
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.connected());
  proto::Message m;
  m.mutable_start_session();  // skipping hello
  raw.Send(m);
  auto r = raw.Receive();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error().code(), proto::Error::UNAUTHENTICATED);
  EXPECT_FALSE(raw.Receive());  // and the connection is closed
  EXPECT_NE(server_->log().find("wrong token"), std::string::npos);
}

TEST_F(ComputeTest, MalformedProtobufGetsAClearErrorAndTheConnectionLives) {
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.Hello(server_->token()));
  ASSERT_TRUE(raw.Write(core::FrameBody("\xff\xff\xff garbage")));
  auto r = raw.Receive();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error().code(), proto::Error::BAD_REQUEST);
  EXPECT_NE(r->error().text().find("malformed"), std::string::npos);
  // Invalid UTF-8 in a string field is malformed too.
  proto::Message ex;
  ex.set_id(5);
  ex.mutable_execute()->set_session("x");
  std::string body = ex.SerializeAsString();
  body.replace(body.find('x'), 1, "\xff");
  ASSERT_TRUE(raw.Write(core::FrameBody(body)));
  r = raw.Receive();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error().code(), proto::Error::BAD_REQUEST);
  // Still serving this connection.
  proto::Message st;
  st.set_id(9);
  st.mutable_start_session();
  raw.Send(st);
  r = raw.Receive();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has_session_started()) << r->DebugString();
}

TEST_F(ComputeTest, OversizedFrameClosesThatConnectionOnly) {
  auto other = Connect();
  auto s = other->StartSession("sage");
  ASSERT_TRUE(s);
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.Hello(server_->token()));
  const unsigned char huge[4] = {0x40, 0x00, 0x00, 0x00};  // 1 GiB
  raw.Write(std::string_view(reinterpret_cast<const char*>(huge), 4));
  EXPECT_FALSE(raw.Receive());  // closed
  auto r = other->Execute(*s, "3*3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "9\n");
  EXPECT_NE(server_->log().find("frame over"), std::string::npos);
}

TEST_F(ComputeTest, AnotherConnectionsSessionIsOffLimits) {
  auto owner = Connect();
  auto s = owner->StartSession("sage");
  ASSERT_TRUE(s);
  auto intruder = Connect();
  for (auto which : {0, 1, 2}) {
    proto::Message m;
    if (which == 0) m.mutable_execute()->set_session(*s), m.mutable_execute()->set_code("1");
    if (which == 1) m.mutable_interrupt()->set_session(*s);
    if (which == 2) m.mutable_terminate()->set_session(*s);
    const uint64_t id = intruder->Request(m);
    auto r = intruder->Receive();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->id(), id);
    EXPECT_EQ(r->error().code(), proto::Error::PERMISSION_DENIED) << r->DebugString();
  }
  proto::Message m;
  m.mutable_execute()->set_session("no-such-session");
  intruder->Request(m);
  auto r = intruder->Receive();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error().code(), proto::Error::NOT_FOUND);
  auto ok = owner->Execute(*s, "7*6");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->out, "42\n");
}

TEST_F(ComputeTest, TerminateRemovesTheHome) {
  auto c = Connect();
  auto s = c->StartSession("sage");
  ASSERT_TRUE(s);
  auto r = c->Execute(*s, "import os\n_ = open('mine.txt', 'w').write('x')\nprint(os.getcwd())");
  ASSERT_TRUE(r);
  const std::string home = r->out.substr(0, r->out.size() - 1);
  // As root the file lives in the session's own tmpfs, seen only in its
  // mount namespace; the host holds the (empty) folder it is mounted on.
  ASSERT_TRUE(std::filesystem::exists(geteuid() == 0 ? home : home + "/mine.txt")) << home;
  proto::Message t;
  t.mutable_terminate()->set_session(*s);
  c->Request(t);
  ASSERT_TRUE(c->Receive());
  for (int i = 0; i < 100 && std::filesystem::exists(home); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(std::filesystem::exists(home));
}

TEST(ComputeLimits, MaxSessionsGivesAClearError) {
  ComputeProcess server({"--kernel", "python", "--max-sessions", "2", "--pool", "1"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto c = server.Connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->StartSession("python"));
  ASSERT_TRUE(c->StartSession("python"));
  auto third = c->StartSession("python");
  ASSERT_FALSE(third);
  EXPECT_NE(third.error().find("full"), std::string::npos) << third.error();
  auto wrong = c->StartSession("sage");
  ASSERT_FALSE(wrong);
}

TEST(ComputeLimits, IdleSessionsEnd) {
  ComputeProcess server({"--kernel", "python", "--idle", "1"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto c = server.Connect();
  auto s = c->StartSession("python");
  ASSERT_TRUE(s);
  auto m = c->Receive();  // nothing to do: the next message is the end
  ASSERT_TRUE(m) << m.error();
  ASSERT_TRUE(m->has_session_ended()) << m->DebugString();
  EXPECT_EQ(m->session_ended().session(), *s);
  EXPECT_NE(m->session_ended().reason().find("idle"), std::string::npos);
}

TEST(ComputePython, PlainPythonKernel) {
  ComputeProcess server({"--kernel", "python"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto c = server.Connect();
  auto s = c->StartSession("python");
  ASSERT_TRUE(s) << s.error();
  auto r = c->Execute(*s, "2**10\n[i*i for i in range(4)]");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "1024\n[0, 1, 4, 9]\n");
}

TEST(ComputeTls, TlsConnectionsWork) {
  char tmpl[] = "/tmp/salvus-tls-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      dir + "/key.pem -out " + dir + "/cert.pem >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ComputeProcess server(
      {"--kernel", "python", "--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto o = server.client_options();
  o.tls = true;
  o.tls_ca = dir + "/cert.pem";
  auto c = compute::ComputeClient::Connect(o);
  ASSERT_TRUE(c) << c.error();
  auto s = (*c)->StartSession("python");
  ASSERT_TRUE(s);
  auto r = (*c)->Execute(*s, "6*7");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "42\n");
  // A plain-text client gets nowhere.
  auto plain = compute::ComputeClient::Connect(server.client_options());
  EXPECT_FALSE(plain);
  // TLS always checks the certificate: without a CA against the system's
  // (which never signed this one), and the name dialled must be on it.
  const std::string before = server.log();
  o.tls_ca = "";
  auto unchecked = compute::ComputeClient::Connect(o);
  ASSERT_FALSE(unchecked);
  EXPECT_NE(unchecked.error().find("the token was not sent"), std::string::npos)
      << unchecked.error();
  o.tls_ca = dir + "/cert.pem";
  o.host = "localhost";
  auto wrong_name = compute::ComputeClient::Connect(o);
  ASSERT_FALSE(wrong_name);
  EXPECT_NE(wrong_name.error().find("certificate verify failed"), std::string::npos)
      << wrong_name.error();
  // Only by name: no check at all.
  o.tls_ca = "";
  o.tls_insecure = true;
  auto insecure = compute::ComputeClient::Connect(o);
  EXPECT_TRUE(insecure) << insecure.error();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace salvus

namespace salvus {
namespace {

TEST(ComputeLimits, WalltimeEndsARunningSession) {
  testutil::ComputeProcess server({"--kernel", "python", "--walltime", "1"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto c = server.Connect();
  auto s = c->StartSession("python");
  ASSERT_TRUE(s);
  auto r = c->Execute(*s, "import time\nwhile True: time.sleep(0.1)");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, proto::Done::DIED);
  EXPECT_NE(r->text.find("walltime"), std::string::npos) << r->text;
}

}  // namespace
}  // namespace salvus
