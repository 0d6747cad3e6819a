#include "compute/cgroup.h"

#include <gtest/gtest.h>

namespace salvus::compute {
namespace {

// This machine's layout: v1 controllers plus an (almost empty) unified hierarchy.
constexpr const char* kHybridMountinfo =
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "41 22 0:38 / /proc rw,nosuid - proc proc rw\n";

constexpr const char* kHybridProcCgroup =
    "9:name=systemd:/\n"
    "8:pids:/\n"
    "4:memory:/process_api/f3445d14\n"
    "1:cpu,cpuacct:/\n"
    "0::/\n";

TEST(CgroupTest, ParsesProcCgroup) {
  auto m = ParseProcCgroup(kHybridProcCgroup);
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0].controllers, "name=systemd");
  EXPECT_EQ(m[2].controllers, "memory");
  EXPECT_EQ(m[2].path, "/process_api/f3445d14");
  EXPECT_EQ(m[4].controllers, "");
  EXPECT_EQ(m[4].path, "/");
}

TEST(CgroupTest, ParsesOnlyCgroupMounts) {
  auto mounts = ParseCgroupMounts(kHybridMountinfo);
  ASSERT_EQ(mounts.size(), 5u);
  EXPECT_FALSE(mounts[0].unified);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts[0].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(mounts[3].controllers, (std::vector<std::string>{"xattr"}));  // name= is no controller
  EXPECT_TRUE(mounts[4].unified);
  EXPECT_EQ(mounts[4].mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(mounts[4].root, "/");
}

TEST(CgroupTest, UndoesMountinfoEscapes) {
  auto mounts = ParseCgroupMounts("50 1 0:40 /a\\040b /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].root, "/a b");
  EXPECT_EQ(mounts[0].mount_point, "/mnt/my cg");
}

TEST(CgroupTest, FindsOwnDirectoriesOnAHybridMachine) {
  auto mounts = ParseCgroupMounts(kHybridMountinfo);
  auto own = ParseProcCgroup(kHybridProcCgroup);
  EXPECT_EQ(OwnCgroupDirectory(mounts, own, "memory"),
            "/sys/fs/cgroup/memory/process_api/f3445d14");
  EXPECT_EQ(OwnCgroupDirectory(mounts, own, "pids"), "/sys/fs/cgroup/pids");
  EXPECT_EQ(OwnCgroupDirectory(mounts, own, "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(OwnCgroupDirectory(mounts, own, ""), "/sys/fs/cgroup/unified");
  EXPECT_EQ(OwnCgroupDirectory(mounts, own, "blkio"), "");  // not mounted
}

TEST(CgroupTest, FindsOwnDirectoryOnAUnifiedMachine) {
  auto mounts =
      ParseCgroupMounts("25 20 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
  auto own = ParseProcCgroup("0::/system.slice/salvus.service\n");
  EXPECT_EQ(OwnCgroupDirectory(mounts, own, ""), "/sys/fs/cgroup/system.slice/salvus.service");
  EXPECT_EQ(OwnCgroupDirectory(mounts, own, "memory"), "");  // no v1 hierarchy
}

TEST(CgroupTest, AMountShowingASubtreeResolvesRelativeToItsRoot) {
  auto mounts = ParseCgroupMounts("25 20 0:22 /outer /cg rw - cgroup2 cgroup2 rw\n");
  EXPECT_EQ(OwnCgroupDirectory(mounts, ParseProcCgroup("0::/outer/inner\n"), ""), "/cg/inner");
  EXPECT_EQ(OwnCgroupDirectory(mounts, ParseProcCgroup("0::/outer\n"), ""), "/cg");
  // Outside what the mount shows, or a mere name prefix: not reachable.
  EXPECT_EQ(OwnCgroupDirectory(mounts, ParseProcCgroup("0::/elsewhere\n"), ""), "");
  EXPECT_EQ(OwnCgroupDirectory(mounts, ParseProcCgroup("0::/outerwear\n"), ""), "");
}

TEST(CgroupTest, AMountRootLongerThanAShortStringResolvesToo) {
  // The root once went through a temporary std::string that died before it
  // was read (seen by clang-tidy; a heap-sized root makes it matter).
  auto mounts = ParseCgroupMounts(
      "25 20 0:22 /machine.slice/container-0123456789.scope /cg rw - cgroup2 cgroup2 rw\n");
  EXPECT_EQ(
      OwnCgroupDirectory(
          mounts, ParseProcCgroup("0::/machine.slice/container-0123456789.scope/salvus\n"), ""),
      "/cg/salvus");
}

TEST(CgroupTest, HasAllWords) {
  EXPECT_TRUE(HasAllWords("cpuset cpu io memory hugetlb pids rdma\n", {"memory", "pids"}));
  EXPECT_TRUE(HasAllWords("cpu,cpuacct", {"cpuacct"}));
  EXPECT_FALSE(HasAllWords("hugetlb\n", {"memory", "pids"}));
  EXPECT_FALSE(HasAllWords("memoryx pids", {"memory"}));
  EXPECT_FALSE(HasAllWords("", {"memory"}));
}

TEST(CgroupTest, LimitValues) {
  EXPECT_EQ(LimitValue(0, "max"), "max");
  EXPECT_EQ(LimitValue(0, "-1"), "-1");
  EXPECT_EQ(LimitValue(2048ull * 1024 * 1024, "max"), "2147483648");
}

TEST(CgroupTest, LeafIsNamedAfterTheWorkersHome) {
  EXPECT_EQ(CgroupLeafDirs({"/cg/memory/p", "/cg/pids/p"}, "/var/lib/salvus/homes/w17"),
            (std::vector<std::string>{"/cg/memory/p/w17", "/cg/pids/p/w17"}));
  EXPECT_EQ(CgroupLeafDirs({"/cg/p"}, "/state/homes/w3/"), (std::vector<std::string>{"/cg/p/w3"}));
  EXPECT_TRUE(CgroupLeafDirs({}, "/state/homes/w3").empty());
}

}  // namespace
}  // namespace salvus::compute
