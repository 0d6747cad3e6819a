// `salvus admin` on a small cluster of network namespaces (root only): the
// bridge and a namespace per host, PostgreSQL, memcached, two compute
// servers (TLS, verified against the cluster CA), two hubs and two haproxies
// sharing a floating address (keepalived), each started healthy before the
// next, over WireGuard networks with nftables rules (a compute host reaches
// nothing; a cell on it neither); a Sage cell through the floating address; the active haproxy
// killed, the address moves and cells go on; `status` (and a service whose process died);
// `rolling-restart hubs`; `start` again changes nothing; `destroy` leaves no namespace, interface
// or process. Everything it makes is named sv14t*; TearDown destroys it even when a check failed.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "admin/files.h"
#include "admin/probe.h"
#include "admin/process.h"

namespace salvus {
namespace {

namespace fs = std::filesystem;
using admin::RunResult;

constexpr const char* kCluster = R"([cluster]
name = "sv14t"
state_dir = "state"
bridge_address = "10.214.14.1/24"
public_origin = "https://10.214.14.50"
web = "web"
floating_address = "10.214.14.50"
salvus_network = "10.214.24.0/24"
sage_network = "10.214.25.0/24"

[[hosts]]
name = "db"
kind = "netns"
address = "10.214.14.10"

[[hosts]]
name = "cache"
kind = "netns"
address = "10.214.14.11"

[[hosts]]
name = "c1"
kind = "netns"
address = "10.214.14.21"

[[hosts]]
name = "c2"
kind = "netns"
address = "10.214.14.22"

[[hosts]]
name = "h1"
kind = "netns"
address = "10.214.14.31"

[[hosts]]
name = "h2"
kind = "netns"
address = "10.214.14.32"

[[hosts]]
name = "p1"
kind = "netns"
address = "10.214.14.40"

[[hosts]]
name = "p2"
kind = "netns"
address = "10.214.14.41"

[[services]]
type = "haproxy"
host = "p1"

[[services]]
type = "haproxy"
host = "p2"

[[services]]
type = "hub"
host = "h1"

[[services]]
type = "hub"
host = "h2"

[[services]]
type = "compute"
host = "c1"
uid_base = 270000
max_sessions = 4

[[services]]
type = "compute"
host = "c2"
uid_base = 271000
max_sessions = 4

[[services]]
type = "memcached"
host = "cache"

[[services]]
type = "postgresql"
host = "db"
)";

// What the machine holds named after the cluster: namespaces, interfaces.
std::vector<std::string> Leftovers() {
  std::vector<std::string> found;
  for (const char* dir : {"/run/netns", "/sys/class/net"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().filename().string().rfind("sv14t", 0) == 0) found.push_back(e.path());
    }
  }
  return found;
}

// Processes whose command line names `needle`, or that run as a uid in
// [lo, hi).
std::vector<std::string> ProcessesOf(const std::string& needle, uid_t lo, uid_t hi) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = admin::ReadSmallFile(e.path() / "cmdline");
    for (char& c : cmd) c = c == '\0' ? ' ' : c;
    struct stat st {};
    const bool uid_in = stat(e.path().c_str(), &st) == 0 && st.st_uid >= lo && st.st_uid < hi;
    if (cmd.find(needle) != std::string::npos || uid_in) found.push_back(pid + ": " + cmd);
  }
  return found;
}

class ClusterAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, a bridge, session uids)";
    for (const char* p : {"/usr/sbin/haproxy", "/usr/bin/memcached", "/usr/bin/pg_isready",
                          "/usr/sbin/keepalived", "/usr/bin/curl"}) {
      if (!fs::exists(p)) GTEST_SKIP() << "no " << p << " (scripts/install-deps.sh)";
    }
    if (!admin::Run({"ip", "netns", "add", "sv14tprobe"}).ok()) {
      GTEST_SKIP() << "cannot make a network namespace here";
    }
    admin::Run({"ip", "netns", "del", "sv14tprobe"});
    char tmpl[] = "/tmp/sv14-cluster-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);  // session uids pass through to their homes
    fs::create_directories(dir_ / "web");
    std::ofstream(dir_ / "web" / "index.html") << "<!doctype html><title>salvus</title>\n";
    std::ofstream(dir_ / "cluster.toml") << kCluster;
    if (!Leftovers().empty()) {
      // A run killed before its TearDown: destroy removes whatever is named
      // like this cluster's (and kills what runs in its namespaces).
      RunResult r = Admin({"destroy"});
      ASSERT_TRUE(r.ok()) << r.output;
    }
    ASSERT_EQ(Leftovers(), std::vector<std::string>{}) << "a previous run left sv14t* behind";
  }

  void TearDown() override {
    if (dir_.empty()) return;
    RunResult r = Admin({"destroy", "--purge"});
    EXPECT_TRUE(r.ok()) << r.output;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  RunResult Admin(const std::vector<std::string>& args, int timeout_s = 600) {
    std::vector<std::string> argv{SALVUS_BINARY, "admin", "--cluster",
                                  (dir_ / "cluster.toml").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return admin::Run(argv, {}, std::chrono::seconds(timeout_s));
  }

  std::string Ca() const { return (dir_ / "state" / "secrets" / "ca.pem").string(); }

  fs::path dir_;
};

TEST_F(ClusterAdminTest, StartRunStatusDestroy) {
  const auto began = std::chrono::steady_clock::now();
  RunResult start = Admin({"start"});
  ASSERT_TRUE(start.ok()) << start.output;
  // In order, each healthy before the next.
  size_t at = 0;
  for (const char* s : {"postgresql1 (postgresql)", "memcached1 (memcached)", "compute1 (compute)",
                        "compute2 (compute)", "hub1 (hub)", "hub2 (hub)", "haproxy1 (haproxy)",
                        "haproxy2 (haproxy)", "floating address 10.214.14.50: on haproxy1"}) {
    const size_t next = start.output.find(s, at);
    ASSERT_NE(next, std::string::npos) << s << " not after position " << at << ":\n"
                                       << start.output;
    EXPECT_NE(start.output.find("healthy", next), std::string::npos) << s;
    at = next;
  }
  std::cerr << "[ cluster ] started in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count()
            << " s\n";

  // Secrets: made once, private, and the certificates chain to the CA.
  const fs::path secrets = dir_ / "state" / "secrets";
  struct stat st {};
  ASSERT_EQ(stat(secrets.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const char* f : {"token", "ca.key", "ca.pem", "compute1.key", "pgpass"}) {
    ASSERT_EQ(stat((secrets / f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  RunResult verify = admin::Run({"openssl", "verify", "-CAfile", (secrets / "ca.pem").string(),
                                 (secrets / "compute1.pem").string()});
  EXPECT_TRUE(verify.ok()) << verify.output;

  // A Sage cell through haproxy → a hub → a compute server (TLS).
  RunResult cell = admin::Run({SALVUS_BINARY, "exec", "--hub", "wss://10.214.14.50:443/ws",
                               "--tls-ca", Ca(), "factor(2^64+1)"},
                              {}, std::chrono::seconds(120));
  EXPECT_EQ(cell.status, 0) << cell.output;
  EXPECT_NE(cell.output.find("274177 * 67280421310721"), std::string::npos) << cell.output;
  // TLS ends at haproxy, with a certificate of the cluster CA for the
  // floating address (checked above by --tls-ca); plain http is redirected.
  bool connected = false;
  const std::string plain = admin::Exchange(
      "10.214.14.50", 80, "GET / HTTP/1.1\r\nHost: 10.214.14.50\r\nConnection: close\r\n\r\n",
      &connected);
  EXPECT_EQ(plain.rfind("HTTP/1.1 301", 0), 0u) << plain;
  EXPECT_NE(plain.find("location: https://10.214.14.50/"), std::string::npos) << plain;

  // The split (WireGuard + nftables): a compute host reaches nothing but
  // answers the hubs; a hub reaches the database and the compute servers
  // through the tunnels; the database is not on the bridge address.
  struct Reach {
    const char* from;
    const char* to;
    uint16_t port;
    bool open;
  } reach[] = {
      {"sv14t-c1", "10.214.24.1", 5432, false},   // PostgreSQL (salvus tunnel)
      {"sv14t-c1", "10.214.14.10", 5432, false},  // PostgreSQL (bridge)
      {"sv14t-c1", "10.214.24.2", 11211, false},  // memcached
      {"sv14t-c1", "10.214.14.40", 80, false},    // haproxy
      {"sv14t-c1", "10.214.25.4", 6000, false},   // the other compute server
      {"sv14t-c1", "10.214.14.22", 6000, false},
      {"sv14t-p1", "10.214.25.3", 6000, false},  // haproxy is not on the sage network
      {"sv14t-h1", "10.214.24.1", 5432, true},
      {"sv14t-h1", "10.214.24.2", 11211, true},
      {"sv14t-h1", "10.214.25.3", 6000, true},
      {"sv14t-h1", "10.214.14.10", 5432, false},  // only over the tunnel
  };
  for (const Reach& r : reach) {
    EXPECT_EQ(admin::InNetns(r.from, [&] { return admin::TcpOpen(r.to, r.port); }), r.open)
        << r.from << " -> " << r.to << ":" << r.port;
  }
  // Traffic between hosts goes through WireGuard: c1's sage interface
  // (host 2) has moved bytes both ways.
  RunResult wg =
      admin::Run({"ip", "netns", "exec", "sv14t-c1", "wg", "show", "sv14tg2", "transfer"});
  ASSERT_TRUE(wg.ok()) << wg.output;
  EXPECT_NE(wg.output.find('\t'), std::string::npos) << wg.output;
  EXPECT_EQ(wg.output.find("\t0\t"), std::string::npos) << wg.output;
  // And from a cell on a compute server: the database is out of reach.
  cell = admin::Run({SALVUS_BINARY, "exec", "--hub", "wss://10.214.14.50:443/ws", "--tls-ca", Ca(),
                     "import socket\nsocket.create_connection(('10.214.24.1', 5432), timeout=2)"},
                    {}, std::chrono::seconds(120));
  EXPECT_EQ(cell.status, 1) << cell.output;
  EXPECT_NE(cell.output.find("Error"), std::string::npos) << cell.output;

  RunResult status = Admin({"status"});
  EXPECT_EQ(status.status, 0) << status.output;
  for (const char* s :
       {"postgresql1", "memcached1", "compute1", "compute2", "hub1", "hub2", "haproxy1"}) {
    EXPECT_NE(status.output.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(status.output.find("gone"), std::string::npos) << status.output;
  EXPECT_EQ(status.output.find("failing"), std::string::npos) << status.output;

  // The hubs one at a time, each out of haproxy while it restarts; cells
  // still run through haproxy afterwards.
  RunResult rolling = Admin({"rolling-restart", "hubs"});
  EXPECT_TRUE(rolling.ok()) << rolling.output;
  EXPECT_LT(rolling.output.find("rolling restart: hub1"),
            rolling.output.find("rolling restart: hub2"));
  cell = admin::Run(
      {SALVUS_BINARY, "exec", "--hub", "wss://10.214.14.50:443/ws", "--tls-ca", Ca(), "2+2"}, {},
      std::chrono::seconds(120));
  EXPECT_EQ(cell.status, 0) << cell.output;
  EXPECT_NE(cell.output.find('4'), std::string::npos) << cell.output;

  // The active haproxy dies: keepalived moves the address to the other one
  // (its track_script sees haproxy gone) and cells go on through it.
  const pid_t active = admin::ReadPid(dir_ / "state" / "run" / "haproxy1.pid");
  ASSERT_GT(active, 0);
  kill(active, SIGTERM);
  ASSERT_TRUE(admin::Stop(active, std::chrono::seconds(10)));
  const auto killed = std::chrono::steady_clock::now();
  bool moved = false;
  for (int i = 0; i < 300 && !moved; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    moved = admin::Run({"ip", "-n", "sv14t-p2", "-4", "-o", "addr", "show", "dev", "eth0"})
                .output.find(" 10.214.14.50/") != std::string::npos;
  }
  ASSERT_TRUE(moved) << "the floating address stayed off haproxy2";
  std::cerr << "[ cluster ] the floating address moved in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count()
            << " s\n";
  cell = admin::Run(
      {SALVUS_BINARY, "exec", "--hub", "wss://10.214.14.50:443/ws", "--tls-ca", Ca(), "3+4"}, {},
      std::chrono::seconds(120));
  EXPECT_EQ(cell.status, 0) << cell.output;
  EXPECT_NE(cell.output.find('7'), std::string::npos) << cell.output;
  status = Admin({"status"});
  EXPECT_EQ(status.status, 1) << status.output;  // haproxy1 is gone
  EXPECT_NE(status.output.find("floating address 10.214.14.50: on haproxy2"), std::string::npos)
      << status.output;
  // start brings it back (and only it).
  RunResult back = Admin({"start", "haproxies"});
  EXPECT_TRUE(back.ok()) << back.output;
  EXPECT_NE(back.output.find("haproxy1 (haproxy) on p1 10.214.14.40:80: started"),
            std::string::npos)
      << back.output;

  // Again: nothing restarts, no configuration is rewritten.
  const fs::path cfg = dir_ / "state" / "conf" / "haproxy1.cfg";
  const auto written = fs::last_write_time(cfg);
  const std::string token = admin::ReadSmallFile(secrets / "token");
  RunResult again = Admin({"start"});
  EXPECT_TRUE(again.ok()) << again.output;
  EXPECT_NE(again.output.find("haproxy1 (haproxy) on p1 10.214.14.40:80: already running"),
            std::string::npos)
      << again.output;
  EXPECT_EQ(again.output.find("started,"), std::string::npos) << again.output;
  EXPECT_EQ(fs::last_write_time(cfg), written);
  EXPECT_EQ(admin::ReadSmallFile(secrets / "token"), token);

  // One admin at a time: another one finds the cluster locked.
  {
    const int fd = open((dir_ / "state" / "admin.lock").c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
    RunResult busy = Admin({"stop"});
    EXPECT_EQ(busy.status, 1) << busy.output;
    EXPECT_NE(busy.output.find("another salvus admin is working on this cluster"),
              std::string::npos)
        << busy.output;
    close(fd);
  }

  // A service whose process died is found, marked, and its pidfile removed.
  const pid_t memcached = admin::ReadPid(dir_ / "state" / "run" / "memcached1.pid");
  ASSERT_GT(memcached, 0);
  kill(memcached, SIGKILL);
  ASSERT_TRUE(admin::Stop(memcached, std::chrono::seconds(5)));
  status = Admin({"status"});
  EXPECT_EQ(status.status, 1) << status.output;
  EXPECT_NE(status.output.find("gone"), std::string::npos) << status.output;
  EXPECT_FALSE(fs::exists(dir_ / "state" / "run" / "memcached1.pid"));

  const auto destroy_began = std::chrono::steady_clock::now();
  RunResult destroy = Admin({"destroy"});
  EXPECT_TRUE(destroy.ok()) << destroy.output;
  std::cerr
      << "[ cluster ] destroyed in "
      << std::chrono::duration<double>(std::chrono::steady_clock::now() - destroy_began).count()
      << " s\n";
  EXPECT_EQ(Leftovers(), std::vector<std::string>{});
  EXPECT_EQ(ProcessesOf(dir_.string(), 270000, 272000), std::vector<std::string>{});
}

}  // namespace
}  // namespace salvus
