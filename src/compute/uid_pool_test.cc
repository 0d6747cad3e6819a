#include "compute/uid_pool.h"

#include <gtest/gtest.h>

namespace salvus::compute {

TEST(UidPool, NeverHandsOutAUidTwice) {
  UidPool pool(5000, 3);
  auto a = pool.Acquire(), b = pool.Acquire(), c = pool.Acquire();
  ASSERT_TRUE(a && b && c);
  EXPECT_NE(*a, *b);
  EXPECT_NE(*b, *c);
  EXPECT_NE(*a, *c);
  EXPECT_FALSE(pool.Acquire());
  pool.Release(*b);
  EXPECT_EQ(pool.Acquire(), b);
  EXPECT_EQ(pool.free_count(), 0u);
}

}  // namespace salvus::compute
