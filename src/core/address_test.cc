#include "core/address.h"

#include <gtest/gtest.h>

namespace salvus::core {

TEST(ParseHostPort, Valid) {
  auto a = ParseHostPort("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  auto b = ParseHostPort("[::1]:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
}

TEST(ParseHostPort, Invalid) {
  EXPECT_FALSE(ParseHostPort("localhost"));
  EXPECT_FALSE(ParseHostPort(":80"));
  EXPECT_FALSE(ParseHostPort("h:"));
  EXPECT_FALSE(ParseHostPort("h:70000"));
  EXPECT_FALSE(ParseHostPort("h:12x"));
  EXPECT_NE(ParseHostPort("h:x").error().find("HOST:PORT"), std::string::npos);
}

}  // namespace salvus::core
