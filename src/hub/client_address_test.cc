#include "hub/client_address.h"

#include <gtest/gtest.h>

namespace salvus::hub {
namespace {

std::string Key(const char* a) { return ClientKey(boost::asio::ip::make_address(a)); }

TEST(ClientKey, IPv4AsItIsIPv6ByItsSlash64) {
  EXPECT_EQ(Key("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(Key("::ffff:10.1.2.3"), "10.1.2.3");
  // Every address of one /64 is one client; the next /64 is another.
  EXPECT_EQ(Key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(Key("2001:db8:1:2:ffff:eeee:dddd:cccc"), "2001:db8:1:2::/64");
  EXPECT_EQ(Key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
  EXPECT_EQ(Key("::1"), "::/64");
}

}  // namespace
}  // namespace salvus::hub
