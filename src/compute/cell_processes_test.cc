#include "compute/cell_processes.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

namespace salvus::compute {
namespace {

TEST(CellProcessesTest, ParsesTheGroupEvenWithParenthesesInTheName) {
  pid_t pgrp = 0;
  char state = 0;
  ASSERT_TRUE(ParseStatGroup("4242 (a) b (c) S 17 4200 4200 0 -1 4194560", &pgrp, &state));
  EXPECT_EQ(pgrp, 4200);
  EXPECT_EQ(state, 'S');
  ASSERT_TRUE(ParseStatGroup("7 (python3) Z 1 7 7 0", &pgrp, &state));
  EXPECT_EQ(pgrp, 7);
  EXPECT_EQ(state, 'Z');
  EXPECT_FALSE(ParseStatGroup("7 (python3", &pgrp, &state));
  EXPECT_FALSE(ParseStatGroup("7 (x) S 1", &pgrp, &state));
}

TEST(CellProcessesTest, NewestPidMovesWithAFork) {
  const pid_t before = NewestPid();
  ASSERT_GT(before, 0);
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  EXPECT_NE(NewestPid(), before);
}

// A process leading its own group (as a worker does) with a fork loop and a
// sleeper in it and one that left the group: the group's others die, the
// leader and the one outside live on.
TEST(CellProcessesTest, EndsEveryOtherProcessOfTheGroupForksIncluded) {
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t leader = fork();
  ASSERT_GE(leader, 0);
  if (leader == 0) {
    setpgid(0, 0);
    // A loop forking short-lived children, as a fork bomb limited by
    // RLIMIT_NPROC would.
    if (fork() == 0) {
      for (;;) {
        const pid_t c = fork();
        if (c == 0) {
          usleep(20000);
          _exit(0);
        }
        if (c > 0) waitpid(c, nullptr, 0);
      }
    }
    if (fork() == 0) pause();
    const pid_t outside = fork();
    if (outside == 0) {
      setsid();
      pause();
    }
    usleep(50000);
    const int killed = EndOtherProcessesInGroup();
    // None of the group is left.
    const bool alone = kill(-getpgrp(), 0) == 0 && EndOtherProcessesInGroup() == 0;
    const bool outside_alive = kill(outside, 0) == 0;
    kill(outside, SIGKILL);
    char r = static_cast<char>((killed >= 2 ? 1 : 0) | (alone ? 2 : 0) | (outside_alive ? 4 : 0));
    (void)!write(report[1], &r, 1);
    _exit(0);
  }
  close(report[1]);
  char r = 0;
  ASSERT_EQ(read(report[0], &r, 1), 1);
  close(report[0]);
  waitpid(leader, nullptr, 0);
  EXPECT_TRUE(r & 1) << "killed fewer than the loop and the sleeper";
  EXPECT_TRUE(r & 2) << "a process of the group survived";
  EXPECT_TRUE(r & 4) << "the process that left the group was killed";
}

}  // namespace
}  // namespace salvus::compute
