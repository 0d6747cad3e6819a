#include "compute/worker_record.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace salvus::compute {
namespace {

using S = WorkerState;
constexpr S kAll[] = {S::kSpawning, S::kIdle, S::kServing, S::kFailed, S::kEnded, S::kReaping};

TEST(WorkerRecord, OnlyTheDocumentedMovesAreLegal) {
  const std::set<std::pair<S, S>> legal = {
      {S::kSpawning, S::kIdle},   {S::kSpawning, S::kFailed},  {S::kIdle, S::kServing},
      {S::kSpawning, S::kEnded},  {S::kIdle, S::kEnded},       {S::kServing, S::kEnded},
      {S::kFailed, S::kEnded},    {S::kSpawning, S::kReaping}, {S::kIdle, S::kReaping},
      {S::kServing, S::kReaping}, {S::kFailed, S::kReaping},   {S::kEnded, S::kReaping},
  };
  for (S from : kAll) {
    for (S to : kAll) {
      EXPECT_EQ(IsLegalMove(from, to), legal.count({from, to}) == 1)
          << WorkerStateName(from) << " -> " << WorkerStateName(to);
    }
  }
}

TEST(WorkerRecord, StartsSpawningAndFollowsALife) {
  WorkerRecord w;
  EXPECT_EQ(w.state(), S::kSpawning);
  EXPECT_TRUE(w.MoveTo(S::kIdle));
  EXPECT_TRUE(w.MoveTo(S::kServing));
  EXPECT_TRUE(w.MoveTo(S::kEnded));
  EXPECT_TRUE(w.MoveTo(S::kReaping));
  EXPECT_EQ(w.state(), S::kReaping);
}

TEST(WorkerRecord, AnIllegalMoveChangesNothing) {
  WorkerRecord w;
  EXPECT_FALSE(w.MoveTo(S::kServing));  // never ready
  EXPECT_EQ(w.state(), S::kSpawning);
  ASSERT_TRUE(w.MoveTo(S::kFailed));
  EXPECT_FALSE(w.MoveTo(S::kIdle));  // a failed worker never becomes ready
  EXPECT_EQ(w.state(), S::kFailed);
  ASSERT_TRUE(w.MoveTo(S::kReaping));
  EXPECT_FALSE(w.MoveTo(S::kEnded));  // reaping is the last state
  EXPECT_FALSE(w.MoveTo(S::kReaping));
  EXPECT_EQ(w.state(), S::kReaping);
}

}  // namespace
}  // namespace salvus::compute
