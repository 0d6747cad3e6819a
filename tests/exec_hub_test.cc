// `salvus exec --hub` end to end: the real binary against `salvus up` (a hub
// and a compute server with real Sage), speaking the browser protocol.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "client/hub_client.h"
#include "util/compute_process.h"
#include "util/free_port.h"
#include "util/up_process.h"

extern char** environ;

namespace salvus {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

using testutil::ReadFile;
using testutil::UpProcess;

// `salvus up --port 0` in a fresh data folder; stopped with SIGTERM.

struct Ran {
  int code = -1;  // exit status; 128 + signal when killed
  std::string out, err;
};

// Runs `salvus ARGS...` with `input` on stdin. `during(pid, out_path)` (if
// given) runs while it does. Killed after `timeout`.
Ran Salvus(std::vector<std::string> args, const std::string& input = "",
           const std::function<void(pid_t, const std::string&)>& during = nullptr,
           std::chrono::seconds timeout = std::chrono::seconds(120)) {
  char tmpl[] = "/tmp/salvus-exec-run-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::ofstream(dir + "/in") << input;
  args.insert(args.begin(), SALVUS_BINARY);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, (dir + "/in").c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, (dir + "/out").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&fa, 2, (dir + "/err").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  // The child gets default signal handling whatever the test runner set.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  Ran r;
  const int rc = posix_spawn(&pid, SALVUS_BINARY, &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc == 0) {
    if (during) during(pid, dir + "/out");
    const auto deadline = Clock::now() + timeout;
    int status = 0;
    for (;;) {
      if (waitpid(pid, &status, WNOHANG) == pid) break;
      if (Clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        r.err = "[test: killed after the timeout]\n";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  r.out = ReadFile(dir + "/out");
  r.err += ReadFile(dir + "/err");
  std::error_code ec;
  fs::remove_all(dir, ec);
  return r;
}

// Waits until the file at `path` holds `text` (up to 60 s).
bool WaitForText(const std::string& path, const std::string& text) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    if (ReadFile(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// ---- against a running `salvus up` ----

class ExecHubTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { up_ = new UpProcess(); }
  static void TearDownTestSuite() {
    const std::string left = up_->Stop();
    EXPECT_EQ(left, "") << "salvus up must stop cleanly and leave nothing behind";
    delete up_;
    up_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(up_->ok()) << up_->log(); }

  static Ran Exec(const std::string& code, const std::string& input = "") {
    return Salvus({"exec", "--hub", up_->url(), code}, input);
  }
  static Ran ExecCompute(const std::string& code) {
    const std::string port = ReadFile(up_->data() + "/compute.port");
    return Salvus({"exec", "--compute", "127.0.0.1:" + port.substr(0, port.find('\n')),
                   "--token-file", up_->data() + "/token", code});
  }
  static UpProcess* up_;
};
UpProcess* ExecHubTest::up_ = nullptr;

TEST_F(ExecHubTest, FactorPrintsTheAnswerAndExitsZero) {
  Ran r = Exec("factor(2^64+1)");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "274177 * 67280421310721\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(ExecHubTest, RaisingCodeExitsOneWithTheTracebackOnStderr) {
  Ran r = Exec("print('before')\n1/0\nprint('after')");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.out, "before\n");
  EXPECT_NE(r.err.find("ZeroDivisionError"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
}

TEST_F(ExecHubTest, StreamsOutputOfALoop) {
  Ran r = Exec("for i in range(3): print(i); sleep(0.3r)");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "0\n1\n2\n");
}

TEST_F(ExecHubTest, ReadsCodeFromStdinWithDash) {
  Ran r = Exec("-", "x = 6\nfor i in range(3):\n    print(i)\nx * 7\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "0\n1\n2\n42\n");
}

TEST_F(ExecHubTest, SameOutputAndExitCodesAsCompute) {
  for (const std::string code :
       {"factor(2^64+1)", "import sys\nprint('out')\nprint('err', file=sys.stderr)\n2^10",
        "undefined_name", "print('x', end='')"}) {
    SCOPED_TRACE(code);
    Ran hub = Exec(code);
    Ran compute = ExecCompute(code);
    EXPECT_EQ(hub.code, compute.code) << hub.err << compute.err;
    EXPECT_EQ(hub.out, compute.out);
    EXPECT_EQ(hub.err, compute.err);
  }
}

TEST_F(ExecHubTest, EachRunHasAFreshSession) {
  ASSERT_EQ(Exec("secret = 1").code, 0);
  Ran r = Exec("secret");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("NameError"), std::string::npos) << r.err;
}

TEST_F(ExecHubTest, WrongPathIsAConnectionError) {
  Ran r = Salvus({"exec", "--hub", "ws://127.0.0.1:" + std::to_string(up_->port()) + "/nope", "1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("salvus exec: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/nope"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

// Ctrl-C: the first interrupts the cell (which then ends as interrupted,
// exit 1); the second ends the session and quits at once with 130.
void CtrlCInterruptsThenQuits(std::vector<std::string> args, const std::string& mode) {
  {
    SCOPED_TRACE("one Ctrl-C");
    auto a = args;
    a.push_back("print('started', flush=True)\nwhile True: pass");
    Ran r = Salvus(a, "", [](pid_t pid, const std::string& out) {
      ASSERT_TRUE(WaitForText(out, "started"));
      kill(pid, SIGINT);
    });
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("interrupting"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("KeyboardInterrupt"), std::string::npos) << r.err;
  }
  {
    SCOPED_TRACE("two Ctrl-C, the code ignores the first");
    // The cell keeps writing the time to a file: once the session is
    // ended, the file is deleted (root: the session's /tmp files go) or
    // stops changing.
    const std::string alive = "/tmp/salvus-exec-hub-alive-" + std::to_string(getpid()) + "-" + mode;
    auto a = args;
    a.push_back(
        "import time\nprint('started', flush=True)\nwhile True:\n"
        "    try:\n        open('" +
        alive +
        "', 'w').write(repr(time.time()))\n"
        "        time.sleep(0.05r)\n    except KeyboardInterrupt:\n"
        "        print('caught', flush=True)\n");
    Ran r = Salvus(a, "", [](pid_t pid, const std::string& out) {
      ASSERT_TRUE(WaitForText(out, "started"));
      kill(pid, SIGINT);
      ASSERT_TRUE(WaitForText(out, "caught"));
      kill(pid, SIGINT);
    });
    EXPECT_EQ(r.code, 130) << r.err;
    bool stopped = false;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (!stopped && Clock::now() < deadline) {
      const std::string before = ReadFile(alive);
      std::this_thread::sleep_for(std::chrono::seconds(1));
      stopped = !fs::exists(alive) || (!before.empty() && ReadFile(alive) == before);
    }
    EXPECT_TRUE(stopped) << "the session still runs after salvus exec quit";
    std::error_code ec;
    fs::remove(alive, ec);
  }
}

TEST_F(ExecHubTest, CtrlCInterruptsThenQuitsViaHub) {
  CtrlCInterruptsThenQuits({"exec", "--hub", up_->url()}, "hub");
}

TEST_F(ExecHubTest, CtrlCInterruptsThenQuitsViaCompute) {
  const std::string port = ReadFile(up_->data() + "/compute.port");
  CtrlCInterruptsThenQuits({"exec", "--compute", "127.0.0.1:" + port.substr(0, port.find('\n')),
                            "--token-file", up_->data() + "/token"},
                           "compute");
}

// A HubClient in-process: the protocol as docs/protocol.md describes it.
TEST_F(ExecHubTest, ClientSpeaksTheDocumentedProtocol) {
  client::HubClientOptions o;
  o.url = up_->url();
  auto c = client::HubClient::Connect(o);
  ASSERT_TRUE(c) << c.error();
  auto s = (*c)->StartSession("sage");
  ASSERT_TRUE(s) << s.error();
  std::vector<std::string> seen;
  auto r = (*c)->Execute(*s, "print(1)\nprint(2)",
                         [&](const proto::Message& m) { seen.push_back(m.output().text()); });
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, proto::Done::OK);
  EXPECT_EQ(r->out, "1\n2\n");
  // Execute in a session that is not ours: an error naming the request.
  proto::Message m;
  m.mutable_execute()->set_session("no-such-session");
  m.mutable_execute()->set_code("1");
  const uint64_t id = (*c)->Request(m);
  auto reply = (*c)->Receive();
  ASSERT_TRUE(reply) << reply.error();
  EXPECT_EQ(reply->id(), id);
  ASSERT_TRUE(reply->has_error());
  EXPECT_EQ(reply->error().code(), proto::Error::NOT_FOUND);
  (*c)->Terminate(*s);
  auto ack = (*c)->Receive();
  ASSERT_TRUE(ack) << ack.error();
  EXPECT_TRUE(ack->has_ack());
  (*c)->Close();
}

// ---- over TLS: wss:// ----

TEST(ExecHubTls, WssWithAndWithoutVerification) {
  char tmpl[] = "/tmp/salvus-exec-tls-XXXXXX";
  const std::string certs = mkdtemp(tmpl);
  auto make_cert = [&](const std::string& name) {
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout " +
        certs + "/" + name + ".key -out " + certs + "/" + name + ".pem 2>/dev/null";
    return std::system(cmd.c_str()) == 0;
  };
  ASSERT_TRUE(make_cert("hub"));
  ASSERT_TRUE(make_cert("other"));
  UpProcess up(
      {"--kernel", "python", "--tls-cert", certs + "/hub.pem", "--tls-key", certs + "/hub.key"});
  ASSERT_TRUE(up.ok()) << up.log();
  const std::string port = std::to_string(up.port());
  const std::string wss = "wss://127.0.0.1:" + port + "/ws";

  Ran r = Salvus(
      {"exec", "--hub", wss, "--kernel", "python", "--tls-ca", certs + "/hub.pem", "print(6*7)"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "42\n");
  // Without a CA the certificate is not checked (like --compute).
  r = Salvus({"exec", "--hub", wss, "--kernel", "python", "print(6*7)"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "42\n");
  // --tls turns a ws:// URL into TLS.
  r = Salvus({"exec", "--hub", "ws://127.0.0.1:" + port + "/ws", "--tls", "--kernel", "python",
              "print(6*7)"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "42\n");
  // A certificate the CA did not sign.
  r = Salvus({"exec", "--hub", wss, "--kernel", "python", "--tls-ca", certs + "/other.pem", "1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("TLS handshake with 127.0.0.1:" + port + " failed"), std::string::npos)
      << r.err;
  // The right CA, but the certificate does not name "localhost".
  r = Salvus({"exec", "--hub", "wss://localhost:" + port + "/ws", "--kernel", "python", "--tls-ca",
              certs + "/hub.pem", "1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("TLS handshake"), std::string::npos) << r.err;
  // Plain WebSocket to the TLS port.
  r = Salvus({"exec", "--hub", "ws://127.0.0.1:" + port + "/ws", "--kernel", "python", "1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("salvus exec: "), std::string::npos) << r.err;

  EXPECT_EQ(up.Stop(), "");
  std::error_code ec;
  fs::remove_all(certs, ec);
}

// ---- errors before any hub answers ----

TEST(ExecHubErrors, ClosedPortExitsTwoWithAClearMessage) {
  const uint16_t port = testutil::FreeLoopbackPort();  // bound, never listened: refused
  Ran r = Salvus({"exec", "--hub", "ws://127.0.0.1:" + std::to_string(port) + "/ws", "1+1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("salvus exec: cannot connect to 127.0.0.1:" + std::to_string(port) +
                       ": Connection refused"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(ExecHubErrors, BadUrlsExitTwo) {
  for (const std::string url : {"http://127.0.0.1:8080/ws", "127.0.0.1:8080", "ws://:80/ws",
                                "ws://127.0.0.1:99999/ws", "ws://127.0.0.1:x/ws"}) {
    SCOPED_TRACE(url);
    Ran r = Salvus({"exec", "--hub", url, "1+1"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("salvus exec: "), std::string::npos) << r.err;
  }
  Ran r = Salvus({"exec", "--hub", "ws://no-such-host.invalid:8080/ws", "1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("cannot resolve no-such-host.invalid"), std::string::npos) << r.err;
}

TEST(ExecHubErrors, ComputeAndHubAreExclusiveAndOneIsNeeded) {
  Ran both = Salvus({"exec", "--hub", "ws://127.0.0.1:1/ws", "--compute", "127.0.0.1:1",
                     "--token-file", "/dev/null", "1"});
  EXPECT_EQ(both.code, 2);
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << both.err;
  Ran none = Salvus({"exec", "1"});
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("--compute"), std::string::npos) << none.err;
  Ran no_token = Salvus({"exec", "--compute", "127.0.0.1:1", "1"});
  EXPECT_EQ(no_token.code, 2);
  EXPECT_NE(no_token.err.find("--token-file"), std::string::npos) << no_token.err;
}

}  // namespace
}  // namespace salvus
