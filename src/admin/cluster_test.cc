#include "admin/cluster.h"

#include <gtest/gtest.h>

#include <string>

namespace salvus::admin {
namespace {

constexpr const char* kGood = R"(
[cluster]
name = "sv14t"
state_dir = "st"
bridge_address = "10.214.0.1/24"
public_origin = "http://10.214.0.40"

[[hosts]]
name = "db"
kind = "netns"
address = "10.214.0.10"

[[hosts]]
name = "c1"
kind = "netns"
address = "10.214.0.20"

[[hosts]]
name = "h1"
kind = "netns"
address = "10.214.0.30"

[[hosts]]
name = "far"
kind = "ssh"
address = "far.example.org"
ssh_user = "deploy"

[[services]]
type = "haproxy"
host = "h1"
port = 80

[[services]]
type = "hub"
host = "h1"

[[services]]
type = "compute"
host = "c1"
uid_base = 270000

[[services]]
type = "postgresql"
host = "db"

[[services]]
type = "memcached"
host = "db"
)";

std::expected<Cluster, std::string> Parse(const std::string& text) {
  return ParseCluster(text, "/etc/salvus/c.toml");
}

// The error for `text`, "" when it parses.
std::string ErrorOf(const std::string& text) {
  auto c = Parse(text);
  return c ? "" : c.error();
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(ClusterTest, ParsesAndSortsIntoStartOrder) {
  auto c = Parse(kGood);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->name, "sv14t");
  EXPECT_EQ(c->state_dir, "/etc/salvus/st");
  EXPECT_EQ(c->bridge_address, "10.214.0.1");
  EXPECT_EQ(c->prefix_len, 24);
  ASSERT_EQ(c->hosts.size(), 4u);
  EXPECT_EQ(c->hosts[3].kind, HostKind::kSsh);
  EXPECT_EQ(c->hosts[3].ssh_user, "deploy");
  ASSERT_EQ(c->services.size(), 5u);
  const char* order[] = {"postgresql1", "memcached1", "compute1", "hub1", "haproxy1"};
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(c->services[i].name, order[i]);
  EXPECT_EQ(c->services[0].port, 5432);
  EXPECT_EQ(c->services[2].port, 6000);
  EXPECT_EQ(c->services[2].uid_base, 270000u);
  EXPECT_EQ(c->services[2].kernel, "sage");
  EXPECT_EQ(c->Netns(c->hosts[0]), "sv14t-db");
  EXPECT_EQ(c->Bridge(), "sv14tbr");
  EXPECT_EQ(c->Veth(2), "sv14tv2");
  EXPECT_TRUE(c->HasNetns());
}

TEST(ClusterTest, LocalHostDefaultsToLoopback) {
  auto c = Parse(R"(
[cluster]
name = "one"
[[hosts]]
name = "me"
kind = "local"
[[services]]
type = "memcached"
host = "me"
)");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->hosts[0].address, "127.0.0.1");
  EXPECT_FALSE(c->HasNetns());
}

TEST(ClusterTest, SyntaxErrorsNameTheLine) {
  EXPECT_NE(ErrorOf("[cluster\nname = 1").find("/etc/salvus/c.toml:1: "), std::string::npos);
  EXPECT_NE(ErrorOf("[cluster]\nname = \"x\nhosts = 3").find("c.toml:2:"), std::string::npos);
  EXPECT_NE(ErrorOf("").find("needs a [cluster] table"), std::string::npos);
  EXPECT_NE(ErrorOf("\x01\xff\xfe").find("c.toml:1:"), std::string::npos);
}

TEST(ClusterTest, UnknownKeysAreRefused) {
  // The line of [extra]: the one after kGood's last.
  EXPECT_EQ(ErrorOf(std::string(kGood) + "[extra]\n"), "/etc/salvus/c.toml:50: unknown key extra");
  EXPECT_NE(ErrorOf(Replace(kGood, "name = \"db\"", "name = \"db\"\nadress = \"x\""))
                .find("unknown key hosts.adress"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kGood, "uid_base = 270000", "uid_base = 270000\nuid_bsae = 1"))
                .find("unknown key services.uid_bsae"),
            std::string::npos);
}

TEST(ClusterTest, WrongTypesAndValuesAreRefused) {
  struct Case {
    std::string from, to, error;
  } cases[] = {
      {"name = \"sv14t\"", "name = 14", "cluster.name must be a string"},
      {"name = \"sv14t\"", "name = \"SV14\"", "cluster.name must be a lowercase letter"},
      {"name = \"sv14t\"", "name = \"averylongname\"", "cluster.name must be"},
      {"name = \"sv14t\"", "name = \"a;rm -rf /\"", "cluster.name must be"},
      {"bridge_address = \"10.214.0.1/24\"", "bridge_address = \"10.214.0.1\"",
       "cluster.bridge_address must be"},
      {"bridge_address = \"10.214.0.1/24\"", "bridge_address = \"10.214.0.1/8\"",
       "cluster.bridge_address must be"},
      {"public_origin = \"http://10.214.0.40\"", "public_origin = \"javascript:alert(1)\"",
       "cluster.public_origin must be"},
      {"kind = \"netns\"", "kind = \"docker\"", "hosts.kind must be local, netns or ssh"},
      {"address = \"10.214.0.10\"", "address = \"10.215.0.10\"", "is not a host address in"},
      {"address = \"10.214.0.10\"", "address = \"10.214.0.1\"", "is not a host address in"},
      {"address = \"10.214.0.10\"", "address = \"10.214.0.255\"", "is not a host address in"},
      {"address = \"10.214.0.10\"", "address = \"10.214.0.20\"", "two hosts have the address"},
      {"address = \"10.214.0.10\"", "address = \"db.example\"", "must be an IPv4 address"},
      {"name = \"c1\"", "name = \"db\"", "two hosts are named db"},
      {"address = \"far.example.org\"", "address = \"far; rm -rf /\"", "must be a host name"},
      {"ssh_user = \"deploy\"", "ssh_user = \"root\\nx\"", "not a user name"},
      {"ssh_user = \"deploy\"", "ssh_user = \"d\"\nssh_port = 0",
       "hosts.ssh_port must be in 1..65535"},
      {"port = 80", "port = 70000", "must be in 1..65535"},
      {"port = 80", "port = 8080", "port 8080 on h1 is taken twice"},
      {"port = 80", "port = \"80\"", "services.port must be an integer"},
      {"type = \"haproxy\"", "type = \"nginx\"", "services.type must be"},
      {"host = \"h1\"\nport", "host = \"nowhere\"\nport", "on an unknown host nowhere"},
      {"uid_base = 270000", "uid_base = 0", "services.uid_base must be in"},
      {"uid_base = 270000", "kernel = \"sage\"", "needs uid_base"},
      {"uid_base = 270000", "uid_base = 270000\nkernel = \"bash\"", "kernel must be sage or"},
      {"type = \"memcached\"\nhost = \"db\"", "type = \"memcached\"\nhost = \"db\"\nuid_base = 1",
       "uid_base is for compute services only"},
      {"[[services]]\ntype = \"postgresql\"", "[services]\ntype = \"postgresql\"",
       "cannot redefine existing array 'services' as table"},
  };
  for (const auto& k : cases) {
    const std::string e = ErrorOf(Replace(kGood, k.from, k.to));
    EXPECT_NE(e.find(k.error), std::string::npos) << k.to << " gave: " << e;
  }
}

TEST(ClusterTest, IncompleteClustersAreRefused) {
  auto without = [](const std::string& block) { return Replace(kGood, block, ""); };
  EXPECT_NE(ErrorOf(without("[[services]]\ntype = \"postgresql\"\nhost = \"db\"\n"))
                .find("hubs need a postgresql service"),
            std::string::npos);
  EXPECT_NE(ErrorOf(without("[[services]]\ntype = \"hub\"\nhost = \"h1\"\n"))
                .find("haproxy needs at least one hub"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kGood) + "[[services]]\ntype = \"postgresql\"\nhost = \"c1\"\n")
                .find("more than one postgresql"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kGood) +
                    "[[services]]\ntype = \"compute\"\nhost = \"h1\"\nuid_base = 270500\n")
                .find("uid blocks of compute1 and compute2 overlap"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[cluster]\nname = \"a\"\n").find("no [[hosts]]"), std::string::npos);
  EXPECT_NE(ErrorOf("hosts = 3\n[cluster]\nname = \"a\"\n").find("must be written [[hosts]]"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kGood, "bridge_address = \"10.214.0.1/24\"\n", ""))
                .find("netns host db needs cluster.bridge_address"),
            std::string::npos);
}

TEST(ClusterTest, HostileFilesAreRefusedCleanly) {
  // Deep nesting, a huge file, many hosts, a long string: errors, never a crash.
  EXPECT_FALSE(Parse("[cluster]\nname = \"a\"\nx = " + std::string(100000, '[')));
  EXPECT_NE(ErrorOf(std::string(kMaxClusterFileBytes + 1, '#')).find("larger than"),
            std::string::npos);
  std::string many = "[cluster]\nname = \"a\"\n";
  for (size_t i = 0; i <= kMaxHosts; ++i) {
    many += "[[hosts]]\nname = \"h" + std::to_string(i) + "\"\nkind = \"ssh\"\naddress = \"a" +
            std::to_string(i) + "\"\n";
  }
  EXPECT_NE(ErrorOf(many).find("more than 250 hosts"), std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kGood, "\"far.example.org\"", "\"" + std::string(5000, 'a') + "\""))
                .find("longer than 1024"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Replace(kGood, "name = \"db\"", "name = \"d\\u0000b\"")).find("hosts.name"),
            std::string::npos);
}

TEST(ClusterTest, ShippedClusterFilesParse) {
  for (const char* name : {"local.toml", "netns.toml"}) {
    auto c = LoadCluster(std::string(SALVUS_DEPLOY_DIR) + "/" + name);
    EXPECT_TRUE(c) << name << ": " << c.error();
  }
  auto c = LoadCluster(std::string(SALVUS_DEPLOY_DIR) + "/netns.toml");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->OfType(ServiceType::kCompute).size(), 3u);
  EXPECT_EQ(c->OfType(ServiceType::kHaproxy).size(), 2u);
  EXPECT_FALSE(LoadCluster("/nonexistent/c.toml"));
}

}  // namespace
}  // namespace salvus::admin
