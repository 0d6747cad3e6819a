#include "compute/state_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace salvus::compute {
namespace {

namespace fs = std::filesystem;

mode_t Mode(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

class StateDirTest : public ::testing::Test {
 protected:
  StateDirTest() {
    char tmpl[] = "/tmp/salvus-state-dir-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~StateDirTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string dir_;
};

TEST_F(StateDirTest, ANewDirectoryAndItsHomesGetTheModeOfTheirRole) {
  ASSERT_TRUE(PrepareStateDir(dir_ + "/a/state", true));
  EXPECT_EQ(Mode(dir_ + "/a/state"), 0711u);
  EXPECT_EQ(Mode(dir_ + "/a/state/homes"), 0711u);
  ASSERT_TRUE(PrepareStateDir(dir_ + "/b", false));
  EXPECT_EQ(Mode(dir_ + "/b"), 0700u);
  EXPECT_EQ(Mode(dir_ + "/b/homes"), 0700u);
  // An existing one left open to everyone is closed again.
  chmod((dir_ + "/b/homes").c_str(), 0777);
  ASSERT_TRUE(PrepareStateDir(dir_ + "/b", false));
  EXPECT_EQ(Mode(dir_ + "/b/homes"), 0700u);
}

TEST_F(StateDirTest, ASymlinkIsRefusedAndItsTargetLeftAlone) {
  fs::create_directories(dir_ + "/target/homes");
  chmod((dir_ + "/target").c_str(), 0755);
  fs::create_directory_symlink(dir_ + "/target", dir_ + "/link");
  auto r = PrepareStateDir(dir_ + "/link", false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), dir_ + "/link is a symlink");
  EXPECT_EQ(Mode(dir_ + "/target"), 0755u);
  // Homes as a symlink, too.
  fs::create_directory(dir_ + "/s");
  fs::create_directory_symlink(dir_ + "/target", dir_ + "/s/homes");
  r = PrepareStateDir(dir_ + "/s", false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), dir_ + "/s/homes is a symlink");
}

TEST_F(StateDirTest, ADirectoryOfAnotherUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "giving a directory away needs root";
  fs::create_directory(dir_ + "/theirs");
  ASSERT_EQ(chown((dir_ + "/theirs").c_str(), 4242, 4242), 0);
  chmod((dir_ + "/theirs").c_str(), 0777);
  auto r = PrepareStateDir(dir_ + "/theirs", false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), dir_ + "/theirs belongs to uid 4242, not to this user (uid 0)");
  EXPECT_EQ(Mode(dir_ + "/theirs"), 0777u);
  EXPECT_FALSE(fs::exists(dir_ + "/theirs/homes"));
}

TEST_F(StateDirTest, AFileInItsPlaceIsRefused) {
  {
    FILE* f = fopen((dir_ + "/file").c_str(), "w");
    fclose(f);
  }
  auto r = PrepareStateDir(dir_ + "/file", false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(dir_ + "/file"), std::string::npos) << r.error();
}

TEST_F(StateDirTest, TheDefaultIsAPrivateDirectoryNeverAFixedPathInTmp) {
  auto root = DefaultStateDir(true, nullptr);
  ASSERT_TRUE(root);
  EXPECT_EQ(root->path, "/var/lib/salvus/compute");
  EXPECT_FALSE(root->temporary);
  // A private runtime directory of ours.
  chmod(dir_.c_str(), 0700);
  auto xdg = DefaultStateDir(false, dir_.c_str());
  ASSERT_TRUE(xdg);
  EXPECT_EQ(xdg->path, dir_ + "/salvus-compute");
  EXPECT_FALSE(xdg->temporary);
  // One others can enter, or none: a fresh directory of its own each time.
  chmod(dir_.c_str(), 0755);
  for (const char* runtime : {dir_.c_str(), static_cast<const char*>(nullptr)}) {
    auto a = DefaultStateDir(false, runtime);
    auto b = DefaultStateDir(false, runtime);
    ASSERT_TRUE(a && b);
    const std::string prefix = "/tmp/salvus-compute-" + std::to_string(geteuid()) + "-";
    EXPECT_TRUE(a->path.starts_with(prefix)) << a->path;
    EXPECT_NE(a->path, b->path);
    EXPECT_TRUE(a->temporary);
    EXPECT_EQ(Mode(a->path), 0700u);
    fs::remove(a->path);
    fs::remove(b->path);
  }
}

TEST_F(StateDirTest, FirstClosedToOthersNamesTheFolderThatStopsSessionUids) {
  fs::create_directories(dir_ + "/open/deeper");
  chmod(dir_.c_str(), 0700);
  chmod((dir_ + "/open").c_str(), 0711);
  EXPECT_EQ(FirstClosedToOthers(dir_ + "/open/deeper/not-yet"), dir_ + " (mode 700)");
  chmod(dir_.c_str(), 0711);
  EXPECT_EQ(FirstClosedToOthers(dir_ + "/open/deeper/not-yet"), "");
  EXPECT_EQ(FirstClosedToOthers("/"), "");
  chmod((dir_ + "/open/deeper").c_str(), 0750);
  EXPECT_EQ(FirstClosedToOthers(dir_ + "/open/deeper"), dir_ + "/open/deeper (mode 750)");
}

}  // namespace
}  // namespace salvus::compute
