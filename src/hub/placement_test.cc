#include "hub/placement.h"

#include <gtest/gtest.h>

namespace salvus::hub {
namespace {

LinkLoad Reported(uint32_t sessions, uint32_t max, double load1 = 0, uint32_t cpus = 4) {
  LinkLoad l;
  l.up = true;
  l.reported = true;
  l.sessions = sessions;
  l.max_sessions = max;
  l.load1 = load1;
  l.cpus = cpus;
  return l;
}

TEST(Placement, FillsByFractionInUseNotByCount) {
  // 3 of 4 is fuller than 10 of 100.
  std::vector<LinkLoad> links = {Reported(3, 4), Reported(10, 100)};
  EXPECT_EQ(PickLink(links), 1u);
}

TEST(Placement, HostLoadPerCoreCounts) {
  // Same fill; the first machine is busy (load 8 on 4 cores).
  std::vector<LinkLoad> links = {Reported(1, 10, 8.0, 4), Reported(1, 10, 0.5, 4)};
  EXPECT_EQ(PickLink(links), 1u);
}

TEST(Placement, StartsSinceTheReportCountUntilTheNext) {
  std::vector<LinkLoad> links = {Reported(0, 4), Reported(0, 16)};
  std::vector<int> got(2);
  for (int i = 0; i < 10; ++i) {
    auto p = PickLink(links);
    ASSERT_TRUE(p);
    ++links[*p].started_since_report;
    ++got[*p];
  }
  // Proportional to room: 2 of 4 and 8 of 16.
  EXPECT_EQ(got[0], 2);
  EXPECT_EQ(got[1], 8);
}

TEST(Placement, SkipsDownOutOfRotationRemovedAndTried) {
  std::vector<LinkLoad> links = {Reported(0, 4), Reported(0, 4), Reported(0, 4), Reported(3, 4)};
  links[0].up = false;
  links[1].in_rotation = false;
  links[2].removed = true;
  EXPECT_EQ(PickLink(links), 3u);
  EXPECT_EQ(PickLink(links, {3}), std::nullopt);
}

TEST(Placement, PrefersRoomOverAnEmptierLookingFullOne) {
  std::vector<LinkLoad> links = {Reported(4, 4), Reported(0, 4, 20.0, 1)};
  EXPECT_TRUE(LooksFull(links[0]));
  EXPECT_EQ(PickLink(links), 1u);
  links[1].full = true;  // it refused: both full, the lower score is tried
  EXPECT_EQ(PickLink(links), 0u);
}

TEST(Placement, UnreportedServersGoByOwnSessions) {
  LinkLoad a, b;
  a.up = b.up = true;
  a.own_sessions = 3;
  b.own_sessions = 1;
  EXPECT_EQ(PickLink({a, b}), 1u);
  EXPECT_EQ(PickLink({LinkLoad{}}), std::nullopt) << "not up";
}

}  // namespace
}  // namespace salvus::hub
