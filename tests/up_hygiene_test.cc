// What a cell can see of the machine under `salvus up`: no descriptor it was
// not meant to have (also after `up` restarts a crashed compute server,
// which once inherited the hub's sockets), none of the data folder's files
// (database, logs, token), none of the operator's environment.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "client/hub_client.h"
#include "util/child_process.h"
#include "util/compute_process.h"
#include "util/run_cell.h"
#include "util/up_process.h"

namespace salvus {
namespace {

namespace fs = std::filesystem;
using testutil::RunCell;
using testutil::UpProcess;

// Lists the cell's descriptors as "fd target" lines.
constexpr char kListFds[] = R"(import os
for fd in sorted(int(n) for n in os.listdir('/proc/self/fd')):
    try:
        print(fd, os.readlink('/proc/self/fd/%d' % fd))
    except OSError:
        pass  # the listing's own
)";

// What in a cell's descriptor list (kListFds) is not the worker's own: stdin
// from /dev/null, stdout and stderr to its pipes, fd 3 its socket to the
// compute server, and whatever else (Python's) that is neither a socket nor
// under the data folder.
std::string UnexpectedDescriptors(const std::string& listing, const std::string& data) {
  std::istringstream in(listing);
  std::string problems;
  int fd;
  std::string target;
  std::map<int, std::string> fds;
  while (in >> fd >> target) fds[fd] = target;
  auto want = [&](int n, const std::string& prefix) {
    if (!fds.count(n) || !fds[n].starts_with(prefix)) problems += std::to_string(n) + " ";
  };
  want(0, "/dev/null");
  want(1, "pipe:");
  want(2, "pipe:");
  want(3, "socket:");
  for (const auto& [n, t] : fds) {
    if (n > 3 && (t.starts_with("socket:") || t.find(data) != std::string::npos)) {
      problems += std::to_string(n) + " -> " + t + "; ";
    }
  }
  return problems;
}

TEST(UpHygiene, ACellHoldsNoDescriptorOfTheHubEvenAfterTheComputeServerRestarts) {
  UpProcess up({"--kernel", "python"});
  ASSERT_TRUE(up.ok()) << up.log();
  // Browser connections open on the hub while the compute server restarts.
  auto held = ConnectTo(up);
  auto c = ConnectTo(up);
  ASSERT_TRUE(held && c);
  std::string fds = RunCell(*c, kListFds);
  EXPECT_EQ(UnexpectedDescriptors(fds, up.data()), "") << fds;

  const pid_t compute = testutil::ComputeServerOf(up);
  ASSERT_GT(compute, 0);
  ASSERT_EQ(kill(compute, SIGKILL), 0);
  // `up` starts another; sessions start again once the hub is back on it.
  // A new connection: `c` is told that its session ended, whenever.
  auto after = ConnectTo(up);
  ASSERT_NE(after, nullptr);
  const std::string session = testutil::StartAfterRestart(up, compute, *after);
  ASSERT_FALSE(session.empty()) << up.log();
  auto r = after->Execute(session, kListFds);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(UnexpectedDescriptors(r->out, up.data()), "") << r->out;
  after->Close();
  held->Close();
  c->Close();
  EXPECT_EQ(up.Stop(), "");
}

TEST(UpHygiene, ACellCannotReadTheDatabaseTheLogsOrTheToken) {
  if (geteuid() != 0) GTEST_SKIP() << "sessions have uids of their own only as root";
  // --monitor: its pid and stats files too.
  UpProcess up({"--kernel", "python", "--monitor"});
  ASSERT_TRUE(up.ok()) << up.log();
  auto c = ConnectTo(up);
  ASSERT_NE(c, nullptr);
  // Every file in the data folder (read by root here), and its listing.
  std::string paths = "[";
  int files = 0;
  for (const auto& e : fs::directory_iterator(up.data())) {
    if (!e.is_regular_file()) continue;
    paths += "'" + e.path().string() + "', ";
    ++files;
  }
  paths += "'" + up.data() + "/compute/zygote/.']";
  for (const char* name : {"salvus.db", "salvus.db-wal", "compute.log", "token", "hub.port",
                           "up.pid", "compute.pid", "hub.json", "compute.json"}) {
    EXPECT_TRUE(fs::exists(up.data() + "/" + name)) << name;
  }
  const std::string out = RunCell(*c,
                                  "import os\n"
                                  "for p in " +
                                      paths +
                                      ":\n"
                                      "    try:\n"
                                      "        open(p, 'rb').read(1) if not p.endswith('.') else "
                                      "os.listdir(p)\n"
                                      "        print(p, 'READ')\n"
                                      "    except OSError as e:\n"
                                      "        print(p, type(e).__name__)\n"
                                      "try:\n"
                                      "    os.listdir('" +
                                      up.data() +
                                      "')\n"
                                      "    print('data LISTED')\n"
                                      "except OSError as e:\n"
                                      "    print('data', type(e).__name__)\n");
  std::istringstream lines(out);
  std::string path, result;
  int denied = 0;
  // Closed to the session's uid; or not there at all in its view (the
  // test's data folder is under /tmp, which each session has its own of).
  while (lines >> path >> result) {
    const bool refused = result == "PermissionError" || result == "FileNotFoundError";
    EXPECT_TRUE(refused) << path << " " << result;
    denied += refused;
  }
  EXPECT_EQ(denied, files + 2) << out;
  c->Close();
  EXPECT_EQ(up.Stop(), "");
}

TEST(UpHygiene, ACellSeesOnlyTheDocumentedEnvironment) {
  setenv("SALVUS_SECRET_TEST", "x", 1);
  setenv("PWD", "/root/secret-project", 1);
  setenv("OLDPWD", "/root", 1);
  UpProcess up;  // Sage: whatever importing it adds is seen too
  unsetenv("SALVUS_SECRET_TEST");
  ASSERT_TRUE(up.ok()) << up.log();
  auto c = ConnectTo(up);
  ASSERT_NE(c, nullptr);
  const std::string out =
      RunCell(*c, "import os\nprint(' '.join(sorted(os.environ)))\nprint(os.environ['PATH'])");
  // README.md, "Sandbox", lists these (MPMATH_SAGE and SINGULAR_BIN_DIR
  // are set by importing Sage).
  EXPECT_EQ(out,
            "DOT_SAGE HOME LANG MPLBACKEND MPLCONFIGDIR MPMATH_SAGE OMP_NUM_THREADS "
            "OPENBLAS_NUM_THREADS PATH SINGULAR_BIN_DIR TERM TMPDIR USER\n"
            "/usr/local/bin:/usr/bin:/bin\n");
  c->Close();
  EXPECT_EQ(up.Stop(), "");
}

}  // namespace
}  // namespace salvus
