// What one session can do to the machine and to the next sessions under
// `salvus up` as root, tried as an attacker would: leave files in shared
// temporary folders or world-writable places, list the host's processes,
// fill the disk, reach the hub's port, keep files across a crash of the
// compute server. Real Sage; each case skips without root.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "client/hub_client.h"
#include "util/child_process.h"
#include "util/up_process.h"

namespace salvus {
namespace {

namespace fs = std::filesystem;
using testutil::UpProcess;

// A session of its own on a connection of its own.
struct Cell {
  std::unique_ptr<client::HubClient> c;
  std::string session;
  client::HubClient::Result Run(const std::string& code) {
    auto r = c->Execute(session, code);
    EXPECT_TRUE(r) << r.error();
    return r ? *r : client::HubClient::Result{proto::Done::DIED, "", "", r.error()};
  }
};

Cell NewCell(const UpProcess& up) {
  Cell cell{testutil::ConnectTo(up), ""};
  EXPECT_NE(cell.c, nullptr);
  if (!cell.c) return cell;
  auto s = cell.c->StartSession();
  EXPECT_TRUE(s) << s.error();
  if (s) cell.session = *s;
  return cell;
}

class UpSandboxTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() == 0) up_ = new UpProcess({"--disk-mb", "300"});
  }
  static void TearDownTestSuite() {
    delete up_;
    up_ = nullptr;
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the sandbox needs root";
    ASSERT_TRUE(up_->ok()) << up_->log();
  }
  static UpProcess* up_;
};
UpProcess* UpSandboxTest::up_ = nullptr;

TEST_F(UpSandboxTest, SessionsShareNoTemporaryFolder) {
  Cell a = NewCell(*up_);
  auto w = a.Run(
      "%python\nimport os\nfor p in ['/tmp/x', '/var/tmp/x', '/dev/shm/x']:\n"
      "    open(p, 'w').write('secret'); os.chmod(p, 0o666)\nprint('written')");
  ASSERT_EQ(w.out, "written\n") << w.err;
  Cell b = NewCell(*up_);
  auto r = b.Run(
      "%python\nimport os\n"
      "print([os.path.exists(p) for p in ['/tmp/x', '/var/tmp/x', '/dev/shm/x']])");
  EXPECT_EQ(r.out, "[False, False, False]\n") << r.err;
  // A's are still A's.
  auto again = a.Run("%python\nprint(open('/dev/shm/x').read())");
  EXPECT_EQ(again.out, "secret\n") << again.err;
}

// One session against another's worker, knowing its pid (pids are easy to
// guess): no signal, no ptrace, nothing of it in /proc (environ, cmdline,
// mem), no way into its home.
TEST_F(UpSandboxTest, ASessionCannotSignalTraceOrReadAnother) {
  Cell victim = NewCell(*up_);
  auto v = victim.Run("%python\nimport os\nprint(os.getpid(), os.getcwd())");
  std::istringstream in(v.out);
  long pid = 0;
  std::string home;
  in >> pid >> home;
  ASSERT_GT(pid, 0) << v.out << v.err;
  Cell attacker = NewCell(*up_);
  const std::string p = std::to_string(pid);
  auto r = attacker.Run(
      "%python\nimport os, signal, ctypes\n"
      "def tried(f):\n"
      "    try:\n"
      "        f(); return 'done'\n"
      "    except OSError as e:\n"
      "        return type(e).__name__\n"
      "print('kill', tried(lambda: os.kill(" +
      p +
      ", signal.SIGKILL)))\n"
      "print('stop', tried(lambda: os.kill(" +
      p +
      ", signal.SIGSTOP)))\n"
      "libc = ctypes.CDLL(None, use_errno=True)\n"
      "print('ptrace', libc.ptrace(16, " +
      p +
      ", 0, 0))\n"  // PTRACE_ATTACH
      "for f in ['environ', 'cmdline', 'mem', 'maps']:\n"
      "    print(f, tried(lambda: open('/proc/" +
      p +
      "/' + f, 'rb').read(1)))\n"
      "print('home', tried(lambda: os.listdir('" +
      home + "')))");
  EXPECT_EQ(r.out,
            "kill PermissionError\nstop PermissionError\nptrace -1\n"
            "environ FileNotFoundError\ncmdline FileNotFoundError\nmem FileNotFoundError\n"
            "maps FileNotFoundError\nhome FileNotFoundError\n")
      << r.err;
  // The victim lives on.
  EXPECT_EQ(victim.Run("2+2").out, "4\n");
}

TEST_F(UpSandboxTest, NoWorldWritablePlaceIsWritable) {
  // A 1777 folder nothing lists: found all the same.
  char made[] = "/srv/salvus-world-writable-XXXXXX";
  fs::create_directories("/srv");
  ASSERT_NE(mkdtemp(made), nullptr);
  ASSERT_EQ(chmod(made, 01777), 0);
  std::string places = "['" + std::string(made) + "', '/run/lock', '/var/lock'";
  if (fs::exists("/var/cache/sympow/datafiles")) places += ", '/var/cache/sympow/datafiles'";
  places += "]";
  Cell a = NewCell(*up_);
  auto r = a.Run("%python\nimport errno\nfor d in " + places +
                 ":\n"
                 "    try:\n"
                 "        open(d + '/planted', 'w').write('x'); print(d, 'WRITTEN')\n"
                 "    except OSError as e:\n"
                 "        print(d, errno.errorcode[e.errno])\n");
  EXPECT_EQ(r.out.find("WRITTEN"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string(made) + " EROFS"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("/run/lock EROFS"), std::string::npos) << r.out << r.err;
  std::error_code ec;
  fs::remove_all(made, ec);
  fs::remove("/run/lock/planted", ec);
  fs::remove("/var/cache/sympow/datafiles/planted", ec);
}

TEST_F(UpSandboxTest, ProcListsOnlyTheSessionsOwnProcesses) {
  Cell other = NewCell(*up_);  // another session, alive meanwhile
  other.Run("import subprocess\np = subprocess.Popen(['sleep', '30'])");
  Cell a = NewCell(*up_);
  auto r = a.Run(
      "%python\nimport os\nme, mine, foreign = os.getuid(), 0, []\n"
      "for p in os.listdir('/proc'):\n"
      "    if not p.isdigit(): continue\n"
      "    try:\n"
      "        uid = os.stat('/proc/' + p).st_uid\n"
      "        cmd = open('/proc/%s/cmdline' % p, 'rb').read()\n"
      "    except OSError:\n"
      "        continue\n"
      "    if uid == me: mine += 1\n"
      "    else: foreign.append((p, uid, cmd[:60]))\n"
      "print(mine >= 1, foreign)");
  EXPECT_EQ(r.out, "True []\n") << r.err;
}

TEST_F(UpSandboxTest, ASessionsDiskIsCappedAtDiskMbAndTheNextCellRuns) {
  Cell a = NewCell(*up_);
  // 2 GB over the home, /tmp, /var/tmp and /dev/shm, 64 MiB per file.
  auto r = a.Run(
      "%python\nimport os\nchunk = b'x' * (1 << 20)\nmib, err = 0, None\n"
      "try:\n"
      "    for i in range(32):\n"
      "        d = ['.', '/tmp', '/var/tmp', '/dev/shm'][i % 4]\n"
      "        with open('%s/fill%d' % (d, i), 'wb') as f:\n"
      "            for _ in range(64):\n"
      "                f.write(chunk); f.flush(); mib += 1\n"
      "except OSError as e:\n"
      "    err = e.strerror\n"
      "print(mib, err)");
  ASSERT_EQ(r.status, proto::Done::OK) << r.err;
  const size_t space = r.out.find(' ');
  ASSERT_NE(space, std::string::npos) << r.out;
  const int mib = std::stoi(r.out.substr(0, space));
  EXPECT_GE(mib, 250) << r.out;
  EXPECT_LE(mib, 300) << r.out;
  EXPECT_EQ(r.out.substr(space), " No space left on device\n");
  auto next = a.Run("factor(2^64+1)");
  EXPECT_EQ(next.out, "274177 * 67280421310721\n") << next.err;
  // Freeing space gives it back.
  auto freed = a.Run(
      "%python\nimport glob, os\nfor d in ['.', '/tmp', '/var/tmp', '/dev/shm']:\n"
      "    for f in glob.glob(d + '/fill*'): os.remove(f)\n"
      "_ = open('/tmp/small', 'wb').write(b'y' * 2**28)\nprint('ok')");
  EXPECT_EQ(freed.out, "ok\n") << freed.err;
}

TEST_F(UpSandboxTest, ACellCannotReachTheHubsPort) {
  EXPECT_NE(up_->log().find("sessions have no network"), std::string::npos) << up_->log();
  Cell a = NewCell(*up_);
  auto r = a.Run("%python\nimport socket\nsocket.create_connection(('127.0.0.1', " +
                 std::to_string(up_->port()) + "), timeout=3)\nprint('connected')");
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("unreachable"), std::string::npos) << r.err;
}

// The cluster token opens every compute server to whoever has it: a cell
// reading its own memory (inherited from the zygote) must not find it.
TEST_F(UpSandboxTest, ACellsMemoryHoldsNoClusterToken) {
  std::string token = testutil::ReadFile(up_->data() + "/token");
  while (!token.empty() && token.back() == '\n') token.pop_back();
  ASSERT_GE(token.size(), 16u);
  // The token in two halves, so that the cell itself never holds it whole.
  Cell a = NewCell(*up_);
  auto r = a.Run("%python\nhead, tail, found = b'" + token.substr(0, 12) + "', b'" +
                 token.substr(12, 12) +
                 "', []\n"
                 "with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb') as mem:\n"
                 "    for line in maps:\n"
                 "        fields = line.split()\n"
                 "        a, b = (int(x, 16) for x in fields[0].split('-'))\n"
                 "        if 'r' not in fields[1] or b - a > 256 << 20: continue\n"
                 "        try:\n"
                 "            mem.seek(a); chunk = mem.read(b - a)\n"
                 "        except (OSError, ValueError, OverflowError):\n"
                 "            continue\n"
                 "        at = chunk.find(head)\n"
                 "        while at >= 0:\n"
                 "            if chunk[at + 12:at + 24] == tail: found.append(fields[-1])\n"
                 "            at = chunk.find(head, at + 1)\n"
                 "print('scanned', found)");
  EXPECT_EQ(r.out, "scanned []\n") << r.err;
}

TEST(UpSandboxRestart, NoFileOfTheOldSessionsIsVisibleAfterTheComputeServerIsKilled) {
  if (geteuid() != 0) GTEST_SKIP() << "the sandbox needs root";
  UpProcess up;
  ASSERT_TRUE(up.ok()) << up.log();
  Cell a = NewCell(up);
  auto w = a.Run(
      "%python\nimport os\nfor p in ['/tmp/old', '/var/tmp/old', '/dev/shm/old', 'old']:\n"
      "    open(p, 'w').write('old'); os.chmod(p, 0o666)\nprint(os.getcwd())");
  ASSERT_EQ(w.status, proto::Done::OK) << w.err;
  const std::string old_home = w.out.substr(0, w.out.size() - 1);
  // What an older version's session (or a crash mid-start) left in the host's
  // /tmp, owned by a session uid: cleaned when the compute server starts.
  const std::string planted = "/tmp/salvus-leftover-" + std::to_string(up.uid_base());
  std::ofstream(planted) << "old";
  ASSERT_EQ(chown(planted.c_str(), up.uid_base() + 1, up.uid_base() + 1), 0);

  const pid_t compute = testutil::ComputeServerOf(up);
  ASSERT_GT(compute, 0);
  ASSERT_EQ(kill(compute, SIGKILL), 0);
  auto after = testutil::ConnectTo(up);
  ASSERT_NE(after, nullptr);
  Cell b{std::move(after), ""};
  b.session = testutil::StartAfterRestart(up, compute, *b.c);
  ASSERT_FALSE(b.session.empty()) << up.log();
  // Whichever uid the new session has, none of it is there, for it or on the host.
  auto r = b.Run(
      "%python\nimport os\nprint([os.path.exists(p) for p in ['/tmp/old', "
      "'/var/tmp/old', '/dev/shm/old', 'old', '" +
      old_home + "/old', '" + planted + "']])");
  EXPECT_EQ(r.out, "[False, False, False, False, False, False]\n") << r.err;
  for (const std::string& p :
       std::vector<std::string>{"/tmp/old", "/var/tmp/old", "/dev/shm/old", old_home + "/old"}) {
    EXPECT_FALSE(fs::exists(p)) << p;
  }
  EXPECT_FALSE(fs::exists(planted));
  std::error_code ec;
  fs::remove(planted, ec);  // when the test failed
  b.c->Close();
  a.c->Close();
  EXPECT_EQ(up.Stop(), "");
}

}  // namespace
}  // namespace salvus
