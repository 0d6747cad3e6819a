// The hub end to end: through `salvus up` (real hub, real compute server,
// real Sage), its per-connection message rate limit and connection limit,
// starting sessions right after it says it is ready, and PostgreSQL as its
// database; and `salvus hub` learning two compute servers from the Store
// (their monitors' reports, through memcached) and placing sessions by load.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "client/hub_client.h"
#include "util/child_process.h"
#include "util/compute_process.h"
#include "util/memcached_process.h"
#include "util/postgres_server.h"
#include "util/raw_http.h"
#include "util/up_process.h"

namespace salvus {
namespace {

using Clock = std::chrono::steady_clock;
using testutil::HttpGet;
using testutil::UpProcess;

proto::Message ExecuteFor(const std::string& session, const std::string& code) {
  proto::Message m;
  m.mutable_execute()->set_session(session);
  m.mutable_execute()->set_code(code);
  return m;
}

TEST(HubLimits, AFloodingConnectionIsSlowedToItsRateLosingNothing) {
  UpProcess up({"--kernel", "python", "--max-message-rate", "20"});
  ASSERT_TRUE(up.ok()) << up.log();
  auto c = ConnectTo(up);
  ASSERT_NE(c, nullptr);
  // 60 requests at once, each for a session that does not exist: 20 pass at
  // once (a second's worth), the other 40 at 20 per second.
  const int n = 60;
  const auto t0 = Clock::now();
  std::set<uint64_t> ids;
  for (int i = 0; i < n; ++i) ids.insert(c->Request(ExecuteFor("nope", "1")));
  ASSERT_EQ(ids.size(), static_cast<size_t>(n));
  int notices = 0;
  std::set<uint64_t> answered;
  while (answered.size() < ids.size()) {
    auto m = c->Receive();
    ASSERT_TRUE(m) << m.error();
    ASSERT_TRUE(m->has_error()) << m->DebugString();
    if (m->id() == 0) {
      EXPECT_EQ(m->error().code(), proto::Error::RATE_LIMITED);
      EXPECT_NE(m->error().text().find("20 per second"), std::string::npos) << m->error().text();
      ++notices;
      continue;
    }
    EXPECT_EQ(m->error().code(), proto::Error::NOT_FOUND) << m->error().text();
    EXPECT_TRUE(ids.count(m->id())) << m->id();
    answered.insert(m->id());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(notices, 1) << "one notice when the connection goes over its rate";
  // 40 messages past the burst at 20/s cannot be answered sooner than 2 s
  // (a lower bound: a slow machine only makes it longer).
  EXPECT_GE(seconds, 1.9);
  // The connection lives on and works normally once under the rate.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto s = c->StartSession("python");
  ASSERT_TRUE(s) << s.error();
  auto r = c->Execute(*s, "print(6 * 7)");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->out, "42\n");
  c->Close();
  EXPECT_EQ(up.Stop(), "");
}

TEST(HubLimits, PastMaxConnectionsANewConnectionGets503) {
  UpProcess up({"--kernel", "python", "--max-connections", "3"});
  ASSERT_TRUE(up.ok()) << up.log();
  // The readiness check's connections may still be closing on the hub's side.
  std::vector<std::unique_ptr<client::HubClient>> held;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (held.size() < 3 && Clock::now() < deadline) {
    if (auto c = ConnectTo(up)) {
      held.push_back(std::move(c));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ASSERT_EQ(held.size(), 3u);
  const std::string refused = HttpGet(up.port(), "/");
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503")) << refused;
  EXPECT_NE(refused.find("connection limit (3)"), std::string::npos) << refused;
  // A health check is answered all the same: the hub is alive, only full.
  const std::string health = HttpGet(up.port(), "/healthz");
  EXPECT_TRUE(health.starts_with("HTTP/1.1 200")) << health;
  EXPECT_EQ(ConnectTo(up), nullptr) << "a WebSocket past the limit is refused too";
  // The held connections still work.
  auto s = held[0]->StartSession("python");
  ASSERT_TRUE(s) << s.error();
  auto r = held[0]->Execute(*s, "print('still here')");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->out, "still here\n");
  // One closes: a new connection gets its place.
  held.back()->Close();
  held.pop_back();
  std::string ok;
  for (int i = 0; i < 100 && !ok.starts_with("HTTP/1.1 200"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ok = HttpGet(up.port(), "/");
  }
  EXPECT_TRUE(ok.starts_with("HTTP/1.1 200")) << ok;
  EXPECT_NE(testutil::ReadFile(up.dir() + "/up.out").find("connection limit (3) reached"),
            std::string::npos);
  for (auto& c : held) c->Close();
  EXPECT_EQ(up.Stop(), "");
}

// A page whose connection went half-open (the hub still holds it) comes back
// on a new connection and resumes its session: it gets it, state and all,
// whichever event loop either connection landed on; the old connection is
// told.
TEST(HubResume, ANewConnectionTakesOverASessionFromAConnectionThatLooksAlive) {
  UpProcess up({"--kernel", "python"});
  ASSERT_TRUE(up.ok()) << up.log();
  std::vector<std::unique_ptr<client::HubClient>> conns;
  conns.push_back(ConnectTo(up));
  ASSERT_NE(conns[0], nullptr);
  auto s = conns[0]->StartSession("python");
  ASSERT_TRUE(s) << s.error();
  ASSERT_TRUE(conns[0]->Execute(*s, "x = 0"));
  for (int i = 1; i <= 6; ++i) {
    conns.push_back(ConnectTo(up));
    auto& c = *conns.back();
    proto::Message resume;
    resume.mutable_resume()->set_session(*s);
    const uint64_t id = c.Request(resume);
    auto m = c.Receive();
    ASSERT_TRUE(m) << m.error();
    ASSERT_EQ(m->id(), id);
    ASSERT_TRUE(m->has_session_started()) << m->DebugString();
    auto r = c.Execute(*s, "x += 1\nprint(x)");
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->out, std::to_string(i) + "\n");
    // The previous connection was told, and no longer runs code there.
    auto& old = *conns[conns.size() - 2];
    auto notice = old.Receive();
    ASSERT_TRUE(notice) << notice.error();
    EXPECT_EQ(notice->id(), 0u);
    EXPECT_NE(notice->error().text().find("resumed on another connection"), std::string::npos)
        << notice->DebugString();
    EXPECT_FALSE(old.Execute(*s, "print(1)"));
  }
  for (auto& c : conns) c->Close();
  EXPECT_EQ(up.Stop(), "");
}

// `salvus up --db postgresql://...`: cells run end to end and permalinks
// live in PostgreSQL (no SQLite file appears).
TEST(HubPostgres, UpWithPostgresqlRunsCellsAndSharesThem) {
  testutil::PostgresServer pg;
  std::string url;
  try {
    url = pg.start();
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  UpProcess up({"--db", url});
  ASSERT_TRUE(up.ok()) << up.log();
  auto c = ConnectTo(up);
  ASSERT_NE(c, nullptr);
  auto s = c->StartSession();
  ASSERT_TRUE(s) << s.error();
  auto r = c->Execute(*s, "factor(2^64+1)");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->out, "274177 * 67280421310721\n");

  proto::Message share;
  share.mutable_share()->set_code("factor(2^64+1)");
  const uint64_t sid = c->Request(share);
  std::string id;
  for (;;) {
    auto m = c->Receive();
    ASSERT_TRUE(m) << m.error();
    if (m->id() != sid) continue;
    ASSERT_TRUE(m->has_shared()) << m->DebugString();
    id = m->shared().id();
    break;
  }
  ASSERT_FALSE(id.empty());
  c->Close();
  EXPECT_EQ(up.Stop(), "");

  // A new hub on the same database finds the shared cell.
  UpProcess again({"--db", url});
  ASSERT_TRUE(again.ok()) << again.log();
  auto c2 = ConnectTo(again);
  ASSERT_NE(c2, nullptr);
  proto::Message get;
  get.mutable_get_shared()->set_id(id);
  const uint64_t gid = c2->Request(get);
  for (;;) {
    auto m = c2->Receive();
    ASSERT_TRUE(m) << m.error();
    if (m->id() != gid) continue;
    ASSERT_TRUE(m->has_shared()) << m->DebugString();
    EXPECT_EQ(m->shared().code(), "factor(2^64+1)");
    break;
  }
  EXPECT_FALSE(std::filesystem::exists(up.data() + "/salvus.db"));
  EXPECT_FALSE(std::filesystem::exists(again.data() + "/salvus.db"));
  c2->Close();
  EXPECT_EQ(again.Stop(), "");
}

// The sessions a compute server says it holds (its --stats-file).
int SessionsOf(const std::string& stats_file) {
  proto::ComputeStats s;
  const std::string text = testutil::ReadFile(stats_file);
  if (text.empty() || !google::protobuf::util::JsonStringToMessage(text, &s).ok()) return -1;
  return static_cast<int>(s.sessions());
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Two compute servers (room for 4 and for 16 sessions), each watched by a
// `salvus monitor` writing to PostgreSQL and memcached; a hub given neither
// on its command line.
TEST(HubRouting, SessionsGoByLoadAndAServerThatStopsReportingGetsNoNewOnes) {
  testutil::MemcachedProcess mc;
  ASSERT_TRUE(mc.ok());
  testutil::PostgresServer pg;
  std::string db;
  try {
    db = pg.start();
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  char tmpl[] = "/tmp/salvus-routing-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  testutil::ComputeProcess a({"--kernel", "python", "--max-sessions", "4", "--pool", "1",
                              "--stats-file", dir + "/a.json"});
  testutil::ComputeProcess b({"--kernel", "python", "--max-sessions", "16", "--pool", "1",
                              "--stats-file", dir + "/b.json"});
  ASSERT_TRUE(a.ok()) << a.log();
  ASSERT_TRUE(b.ok()) << b.log();
  ASSERT_EQ(a.token(), b.token());
  testutil::ComputeProcess::WriteFile(dir + "/a.pid", std::to_string(a.pid()) + "\n");
  testutil::ComputeProcess::WriteFile(dir + "/b.pid", std::to_string(b.pid()) + "\n");
  auto monitor = [&](const std::string& name, uint16_t port) {
    return std::make_unique<testutil::Child>(
        std::vector<std::string>{
            SALVUS_BINARY, "monitor",   "--pidfile",    dir + "/" + name + ".pid",
            "--type",      "compute",   "--name",       "compute-" + name,
            "--address",   "127.0.0.1", "--port",       std::to_string(port),
            "--db",        db,          "--memcached",  mc.address(),
            "--interval",  "0.5",       "--extra-file", dir + "/" + name + ".json"},
        dir + "/monitor-" + name + ".out", dir + "/monitor-" + name + ".err");
  };
  auto monitor_a = monitor("a", a.port());
  auto monitor_b = monitor("b", b.port());
  std::filesystem::create_directories(dir + "/web");
  testutil::ComputeProcess::WriteFile(dir + "/web/index.html",
                                      "<!doctype html><title>stub</title>\n");
  const std::string hub_log = dir + "/hub.log";
  testutil::Child hub({SALVUS_BINARY,
                       "hub",
                       "--listen",
                       "127.0.0.1:0",
                       "--db",
                       db,
                       "--memcached",
                       mc.address(),
                       "--token-file",
                       a.dir() + "/token",
                       "--web",
                       dir + "/web",
                       "--port-file",
                       dir + "/hub.port",
                       "--threads",
                       "2",
                       "--discover-interval",
                       "0.2",
                       "--stale-after",
                       "2",
                       "--max-sessions-per-connection",  // ten at once on one connection
                       "0",
                       "--log-file",
                       hub_log},
                      dir + "/hub.out", dir + "/hub.err");
  uint16_t port = 0;
  ASSERT_TRUE(testutil::WaitFor([&] {
    port = static_cast<uint16_t>(std::atoi(testutil::ReadFile(dir + "/hub.port").c_str()));
    return port != 0;
  })) << testutil::ReadFile(dir + "/hub.err");
  const std::string at_a = "compute 127.0.0.1:" + std::to_string(a.port());
  const std::string at_b = "compute 127.0.0.1:" + std::to_string(b.port());
  // Both learnt and connected on both event loops.
  ASSERT_TRUE(testutil::WaitFor([&] {
    const std::string log = testutil::ReadFile(hub_log);
    return Count(log, at_a + ": connected") == 2 && Count(log, at_b + ": connected") == 2;
  })) << testutil::ReadFile(hub_log);
  const std::string log0 = testutil::ReadFile(hub_log);
  EXPECT_NE(log0.find(at_a + ": discovered"), std::string::npos) << log0;
  EXPECT_NE(log0.find(at_b + ": discovered"), std::string::npos) << log0;

  client::HubClientOptions o;
  o.url = "ws://127.0.0.1:" + std::to_string(port) + "/ws";
  auto opened = client::HubClient::Connect(o);
  ASSERT_TRUE(opened) << opened.error();
  auto& c = **opened;
  auto start = [&](int n, std::vector<std::string>* sessions) {
    for (int i = 0; i < n; ++i) {
      auto s = c.StartSession("python");
      ASSERT_TRUE(s) << "start " << i << ": " << s.error();
      sessions->push_back(*s);
    }
  };
  // Waits for the hub to log `news` about A; one event loop logs for all,
  // the others get the same news at that instant (given 0.5 s).
  auto hub_logs = [&](const std::string& news) {
    ASSERT_TRUE(testutil::WaitFor([&] {
      return testutil::ReadFile(hub_log).find(at_a + ": " + news) != std::string::npos;
    })) << testutil::ReadFile(hub_log);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  };
  auto counts_are = [&](int in_a, int in_b) {
    return testutil::WaitFor(
        [&] { return SessionsOf(dir + "/a.json") == in_a && SessionsOf(dir + "/b.json") == in_b; },
        std::chrono::seconds(10));
  };

  // 1. Ten sessions spread by room (4 vs 16): about 2 and 8, where "fewest
  //    sessions" would try 5 and 5 (and A has room for 4 only).
  std::vector<std::string> sessions;
  start(10, &sessions);
  ASSERT_TRUE(testutil::WaitFor(
      [&] { return SessionsOf(dir + "/a.json") + SessionsOf(dir + "/b.json") == 10; },
      std::chrono::seconds(10)));
  const int in_a = SessionsOf(dir + "/a.json");
  EXPECT_GE(in_a, 1);
  EXPECT_LE(in_a, 3);
  for (const auto& s : sessions) c.Terminate(s);
  sessions.clear();
  ASSERT_TRUE(counts_are(0, 0));

  // 2. memcached dies, then A's monitor (no more reports from A): A leaves
  //    the rotation though it is the emptiest, and every start still works.
  mc.Kill();
  monitor_a->Signal(SIGKILL);
  monitor_a->Wait();
  hub_logs("no report for over 2 s; out of rotation");
  if (HasFatalFailure()) return;
  start(6, &sessions);
  EXPECT_TRUE(counts_are(0, 6)) << "a: " << SessionsOf(dir + "/a.json")
                                << ", b: " << SessionsOf(dir + "/b.json");
  auto r = c.Execute(sessions.back(), "print(sum(range(10)))");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->out, "45\n");

  // 3. A's monitor is back: A is in rotation again and, emptiest (0 of 4
  //    against 6 of 16), gets the next session.
  monitor_a = monitor("a", a.port());
  hub_logs("reporting again; back in rotation");
  if (HasFatalFailure()) return;
  start(1, &sessions);
  EXPECT_TRUE(counts_are(1, 6)) << "a: " << SessionsOf(dir + "/a.json")
                                << ", b: " << SessionsOf(dir + "/b.json");

  for (const auto& s : sessions) c.Terminate(s);
  c.Close();
  hub.Signal(SIGTERM);
  EXPECT_EQ(hub.Wait(std::chrono::seconds(30)), 0) << testutil::ReadFile(dir + "/hub.err");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace salvus
