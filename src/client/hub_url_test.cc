#include "client/hub_url.h"

#include <gtest/gtest.h>

namespace salvus::client {
namespace {

TEST(HubUrl, ParsesWsAndWss) {
  auto u = ParseHubUrl("ws://127.0.0.1:8080/ws");
  ASSERT_TRUE(u) << u.error();
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/ws");
  EXPECT_EQ(u->HttpBase(), "http://127.0.0.1:8080");
  u = ParseHubUrl("wss://example.org");
  ASSERT_TRUE(u) << u.error();
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/ws");
  EXPECT_EQ(u->HttpBase(), "https://example.org:443");
  u = ParseHubUrl("ws://[::1]:9/x?y=1");
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9);
  EXPECT_EQ(u->target, "/x?y=1");
  EXPECT_EQ(u->HttpBase(), "http://[::1]:9");
  EXPECT_FALSE(ParseHubUrl("http://h:1/ws"));
  EXPECT_FALSE(ParseHubUrl("ws://h:0/ws"));
  EXPECT_FALSE(ParseHubUrl("ws://h:70000/ws"));
  EXPECT_FALSE(ParseHubUrl("ws:///ws"));
}

}  // namespace
}  // namespace salvus::client
