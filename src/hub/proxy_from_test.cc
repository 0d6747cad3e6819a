#include "hub/proxy_from.h"

#include <gtest/gtest.h>

namespace salvus::hub {
namespace {

bool In(const ProxyFrom& p, const char* a) { return p.Contains(boost::asio::ip::make_address(a)); }

TEST(ProxyFrom, AddressesAndNetworks) {
  auto p = ProxyFrom::Parse({"127.0.0.9", "10.1.0.0/16", "fd00:1::/32"});
  ASSERT_TRUE(p) << p.error();
  EXPECT_FALSE(p->empty());
  EXPECT_TRUE(In(*p, "127.0.0.9"));
  EXPECT_FALSE(In(*p, "127.0.0.1"));
  EXPECT_FALSE(In(*p, "127.0.0.8"));
  EXPECT_TRUE(In(*p, "10.1.0.0"));
  EXPECT_TRUE(In(*p, "10.1.255.255"));
  EXPECT_FALSE(In(*p, "10.2.0.1"));
  EXPECT_FALSE(In(*p, "10.0.255.255"));
  EXPECT_TRUE(In(*p, "fd00:1::1"));
  EXPECT_TRUE(In(*p, "fd00:1:ffff::1"));
  EXPECT_FALSE(In(*p, "fd00:2::1"));
  // An IPv4 peer of a hub listening on :: arrives IPv4-mapped.
  EXPECT_TRUE(In(*p, "::ffff:127.0.0.9"));
  EXPECT_TRUE(In(*p, "::ffff:10.1.2.3"));
  EXPECT_FALSE(In(*p, "::ffff:127.0.0.1"));
  // An IPv6 address whose low 32 bits look like a listed IPv4 one is not it.
  EXPECT_FALSE(In(*p, "::127.0.0.9"));
  EXPECT_FALSE(In(*p, "::1"));
}

TEST(ProxyFrom, HostBitsAndOddPrefixes) {
  auto p = ProxyFrom::Parse({"192.168.1.77/23", "2001:db8::/47"});
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(In(*p, "192.168.0.1"));
  EXPECT_TRUE(In(*p, "192.168.1.255"));
  EXPECT_FALSE(In(*p, "192.168.2.1"));
  EXPECT_TRUE(In(*p, "2001:db8:1::1"));
  EXPECT_FALSE(In(*p, "2001:db8:2::1"));
  // ::/0 is every address, IPv4 ones (IPv4-mapped) included.
  auto all = ProxyFrom::Parse({"2001:db8::/0"});
  ASSERT_TRUE(all);
  EXPECT_TRUE(In(*all, "2a00::1"));
  EXPECT_TRUE(In(*all, "192.168.2.1"));
  auto none = ProxyFrom::Parse({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(In(*none, "127.0.0.1"));
  auto all4 = ProxyFrom::Parse({"0.0.0.0/0"});
  ASSERT_TRUE(all4);
  EXPECT_TRUE(In(*all4, "8.8.8.8"));
  EXPECT_FALSE(In(*all4, "2a00::1"));
}

TEST(ProxyFrom, MalformedOnesAreRefusedWithTheReason) {
  for (const char* bad : {"haproxy.example", "127.0.0.1/33", "127.0.0.1/", "127.0.0.1/-1",
                          "127.0.0.1/8x", "::1/129", "10.0.0.0/24/8", "127.0.0.1:80"}) {
    auto p = ProxyFrom::Parse({bad});
    EXPECT_FALSE(p) << bad;
    if (!p) EXPECT_NE(p.error().find(bad), std::string::npos) << p.error();
  }
}

}  // namespace
}  // namespace salvus::hub
