#include "admin/wireguard.h"

#include <gtest/gtest.h>

namespace salvus::admin {
namespace {

constexpr const char* kSplit = R"(
[cluster]
name = "sv14u"
bridge_address = "10.214.9.1/24"
salvus_network = "10.214.10.0/24"
sage_network = "10.214.11.0/24"
[[hosts]]
name = "db"
kind = "netns"
address = "10.214.9.10"
[[hosts]]
name = "c1"
kind = "netns"
address = "10.214.9.20"
[[hosts]]
name = "c2"
kind = "netns"
address = "10.214.9.21"
[[hosts]]
name = "web"
kind = "netns"
address = "10.214.9.30"
[[services]]
type = "postgresql"
host = "db"
[[services]]
type = "compute"
host = "c1"
uid_base = 271000
[[services]]
type = "compute"
host = "c2"
uid_base = 272000
[[services]]
type = "hub"
host = "web"
)";

TEST(WireGuardTest, PublicKeysAreWgs) {
  // `wg genkey | tee /dev/stderr | wg pubkey`
  EXPECT_EQ(WgPublicKey("eNzoDKlYsMKrovVnwOw4MbF7Q3sukex0JRBJOMG8JH8="),
            "QvaNAKhIzFBFlJC2m1k3CyKk7cr2GJH+ERwpsi+WTVg=");
  EXPECT_EQ(WgPublicKey(""), "");
  EXPECT_EQ(WgPublicKey("not a key"), "");
  EXPECT_EQ(WgPublicKey(std::string(44, '!')), "");
}

TEST(WireGuardTest, AddressesAndNetworks) {
  auto c = ParseCluster(kSplit, "/x/c.toml");
  ASSERT_TRUE(c) << c.error();
  const Host& db = c->hosts[0];
  const Host& web = c->hosts[3];
  EXPECT_TRUE(c->On(db, Cluster::Net::kSalvus));
  EXPECT_FALSE(c->On(db, Cluster::Net::kSage));
  EXPECT_TRUE(c->On(web, Cluster::Net::kSage));
  EXPECT_TRUE(c->On(web, Cluster::Net::kSalvus));
  EXPECT_FALSE(c->On(c->hosts[1], Cluster::Net::kSalvus));
  EXPECT_EQ(c->TunnelAddress(web, Cluster::Net::kSage), "10.214.11.4");
  EXPECT_EQ(c->WgInterface(web, Cluster::Net::kSalvus), "sv14us3");
  EXPECT_EQ(c->ServiceAddress(*c->FindService("postgresql1")), "10.214.10.1");
  EXPECT_EQ(c->ServiceAddress(*c->FindService("compute2")), "10.214.11.3");
  EXPECT_EQ(c->ServiceAddress(*c->FindService("hub1")), "10.214.10.4");
}

TEST(WireGuardTest, ComputeHostsAcceptOnlyHubsAndOpenNothing) {
  auto c = ParseCluster(kSplit, "/x/c.toml");
  ASSERT_TRUE(c) << c.error();
  const std::string compute = FirewallRules(*c, c->hosts[1]);
  EXPECT_NE(compute.find("policy drop;\n    iif lo accept"), std::string::npos) << compute;
  EXPECT_NE(compute.find("udp dport 51821 ip saddr { 10.214.9.30 } accept"), std::string::npos);
  EXPECT_NE(compute.find("iifname \"sv14ug1\" tcp dport { 6000 } ip saddr { 10.214.11.4 } accept"),
            std::string::npos);
  EXPECT_EQ(compute.find("10.214.9.21"), std::string::npos);  // not the other compute host
  EXPECT_EQ(compute.find("policy accept"), std::string::npos);
  const std::string db = FirewallRules(*c, c->hosts[0]);
  EXPECT_NE(db.find("tcp dport { 5432 } ip saddr { 10.214.10.4 } accept"), std::string::npos) << db;
  EXPECT_EQ(FirewallRules(*c, c->hosts[3]), "");  // hubs: none
}

TEST(WireGuardTest, BadNetworksAreRefused) {
  auto error = [](const std::string& from, const std::string& to) {
    std::string t = kSplit;
    t.replace(t.find(from), from.size(), to);
    auto r = ParseCluster(t, "/x/c.toml");
    return r ? std::string() : r.error();
  };
  EXPECT_NE(error("sage_network = \"10.214.11.0/24\"\n", "").find("go together"),
            std::string::npos);
  EXPECT_NE(error("10.214.11.0/24", "10.214.11.5/24").find("host bits"), std::string::npos);
  EXPECT_NE(error("10.214.11.0/24", "10.214.11.0/31").find("prefix 16..29"), std::string::npos);
  EXPECT_NE(error("type = \"compute\"\nhost = \"c1\"", "type = \"compute\"\nhost = \"db\"")
                .find("runs compute beside other services"),
            std::string::npos);
}

}  // namespace
}  // namespace salvus::admin
