#include "compute/session_mounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "compute/sandbox.h"

namespace salvus::compute {
namespace {

TEST(SessionMountsTest, TmpfsOptionsCapSizeAndInodes) {
  EXPECT_EQ(SessionTmpfsOptions(1024), "mode=0711,uid=0,gid=0,size=1024m,nr_inodes=65536");
  EXPECT_EQ(SessionTmpfsOptions(10), "mode=0711,uid=0,gid=0,size=10m,nr_inodes=4096");
  EXPECT_EQ(SessionTmpfsOptions(0), "mode=0711,uid=0,gid=0");
}

// What a session sees, in a forked child that enters the mounts and drops
// to a uid nobody else uses. Each check is one bit of the exit code.
int InsideSession(const std::string& home, uid_t uid) {
  if (EnterSessionMounts({home, uid, 4}).has_value() == false) return 1;
  if (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0) return 1;
  int bad = 0;
  auto writable = [](const std::string& path) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
    return fd >= 0;
  };
  // Its own places are writable; the home is its own, empty.
  for (const char* p : {"/tmp/x", "/var/tmp/x", "/dev/shm/x"}) {
    if (!writable(p)) bad |= 2;
  }
  if (!writable(home + "/x")) bad |= 2;
  // Nothing else is, not even a 1777 folder nobody listed.
  if (writable("/run/lock/salvus-test") || errno != EROFS) bad |= 4;
  // One cap for all: 4 MiB in total.
  int fd = open("/tmp/big", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  std::string chunk(1 << 20, 'x');
  int written = 0;
  while (fd >= 0 && written < 10 && write(fd, chunk.data(), chunk.size()) > 0) ++written;
  if (fd < 0 || written >= 5 || errno != ENOSPC) bad |= 8;
  // /proc lists this process and nothing else.
  DIR* d = opendir("/proc");
  int pids = 0;
  while (dirent* e = d ? readdir(d) : nullptr) pids += e->d_name[0] >= '1' && e->d_name[0] <= '9';
  if (d) closedir(d);
  if (pids != 1) bad |= 16;
  return bad;
}

TEST(SessionMountsTest, TheTrialSaysWhetherTheMachineAllowsThem) {
  char dir[] = "/tmp/salvus-mounts-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string scratch = std::string(dir) + "/trial";
  auto r = TrySessionMounts(scratch);
  if (geteuid() == 0) {
    EXPECT_TRUE(r) << r.error();
  } else {
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("unshare"), std::string::npos) << r.error();
  }
  struct stat st;
  EXPECT_NE(stat(scratch.c_str(), &st), 0);  // removed
  RemoveTree(dir);
}

TEST(SessionMountsTest, PrivateCappedPlacesReadOnlyRestOwnProc) {
  if (geteuid() != 0) GTEST_SKIP() << "mount namespaces need root";
  char dir[] = "/tmp/salvus-mounts-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  chmod(dir, 0711);
  const std::string home = std::string(dir) + "/home";
  ASSERT_EQ(mkdir(home.c_str(), 0700), 0);
  const uid_t uid = 299999;             // not a session uid of any test block
  const mode_t old_umask = umask(077);  // as under `salvus up`
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(InsideSession(home, uid));
  umask(old_umask);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status) & 1, 0) << "could not enter the mounts";
  EXPECT_EQ(WEXITSTATUS(status) & 2, 0) << "home, /tmp, /var/tmp or /dev/shm not writable";
  EXPECT_EQ(WEXITSTATUS(status) & 4, 0) << "/run/lock writable";
  EXPECT_EQ(WEXITSTATUS(status) & 8, 0) << "the 4 MiB cap did not hold";
  EXPECT_EQ(WEXITSTATUS(status) & 16, 0) << "/proc lists other processes";
  // Nothing of it reached the host: the home is still empty, /tmp has no x.
  struct stat st;
  EXPECT_NE(stat((home + "/x").c_str(), &st), 0);
  EXPECT_NE(stat("/tmp/big", &st), 0);
  RemoveTree(dir);
}

}  // namespace
}  // namespace salvus::compute
