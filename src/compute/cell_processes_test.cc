#include "compute/cell_processes.h"

#include <fcntl.h>
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

// A process leading its own group with its output in pipes (as a worker
// does), with a fork loop and a sleeper in the group, one that left the
// group but writes into the pipes, and one that left both (as a Sage
// interface on its pty): all die but the leader and the last.
TEST(CellProcessesTest, EndsEveryOtherProcessOfTheGroupForksIncluded) {
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t leader = fork();
  ASSERT_GE(leader, 0);
  if (leader == 0) {
    setpgid(0, 0);
    int out[2];
    if (pipe(out) != 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0) _exit(1);
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
    const pid_t writer = fork();
    if (writer == 0) {
      setsid();
      pause();
    }
    const pid_t outside = fork();
    if (outside == 0) {
      setsid();
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      pause();
    }
    usleep(50000);
    const int killed = EndOtherProcessesInGroup();
    const bool writer_gone = waitpid(writer, nullptr, WNOHANG) == writer || kill(writer, 0) != 0;
    // None of the group is left (nor the writer: killed, then reaped).
    const bool alone = kill(-getpgrp(), 0) == 0 && EndOtherProcessesInGroup() == 0;
    const bool outside_alive = kill(outside, 0) == 0;
    kill(outside, SIGKILL);
    char r = static_cast<char>((killed >= 3 ? 1 : 0) | (alone ? 2 : 0) | (outside_alive ? 4 : 0) |
                               (writer_gone ? 8 : 0));
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
  EXPECT_TRUE(r & 4) << "the process that left the group and the pipes was killed";
  EXPECT_TRUE(r & 8) << "the process that left the group but writes into the pipes survived";
}

}  // namespace
}  // namespace salvus::compute
