#include "core/descriptors.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

namespace salvus::core {
namespace {

TEST(Descriptors, SetCloseOnExecSetsTheFlag) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);  // deliberately without O_CLOEXEC
  EXPECT_EQ(fcntl(p[0], F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_TRUE(SetCloseOnExec(p[0]));
  EXPECT_NE(fcntl(p[0], F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_TRUE(SetCloseOnExec(p[0]));  // twice is fine
  close(p[0]);
  close(p[1]);
  EXPECT_FALSE(SetCloseOnExec(p[0]));
}

TEST(Descriptors, OpenDescriptorsListsOnlyOpenOnesWithoutItsOwn) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  auto fds = OpenDescriptors();
  EXPECT_TRUE(std::is_sorted(fds.begin(), fds.end()));
  EXPECT_TRUE(std::binary_search(fds.begin(), fds.end(), p[0]));
  EXPECT_TRUE(std::binary_search(fds.begin(), fds.end(), p[1]));
  close(p[1]);
  fds = OpenDescriptors();
  EXPECT_FALSE(std::binary_search(fds.begin(), fds.end(), p[1]));
  close(p[0]);
}

// Exit status 0 if only the named descriptors are left.
[[noreturn]] void CloseAllButSome() {
  int a[2], b[2];
  if (pipe(a) != 0 || pipe(b) != 0) _exit(2);
  const int high = dup2(a[0], 200);
  CloseAllExcept({2, b[0], -1, 2, high});
  const std::vector<int> want = {2, b[0], high};
  _exit(OpenDescriptors() == want ? 0 : 1);
}

// In a child process (a death test), so the test runner keeps its own.
TEST(Descriptors, CloseAllExceptLeavesOnlyTheNamedOnes) {
  EXPECT_EXIT(CloseAllButSome(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace salvus::core
