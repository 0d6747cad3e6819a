#include "admin/templates.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "admin/files.h"
#include "admin/process.h"
#include "admin/vrrp.h"

namespace salvus::admin {
namespace {

Cluster TwoHubs() {
  auto c = ParseCluster(R"(
[cluster]
name = "sv14u"
bridge_address = "10.214.9.1/24"
[[hosts]]
name = "db"
kind = "netns"
address = "10.214.9.10"
[[hosts]]
name = "web"
kind = "netns"
address = "10.214.9.30"
[[services]]
type = "postgresql"
host = "db"
[[services]]
type = "memcached"
host = "db"
[[services]]
type = "compute"
host = "db"
uid_base = 271000
[[services]]
type = "hub"
host = "web"
[[services]]
type = "hub"
host = "web"
port = 8081
[[services]]
type = "haproxy"
host = "web"
)",
                        "/x/c.toml");
  EXPECT_TRUE(c) << c.error();
  return *c;
}

TEST(TemplatesTest, HaproxyFrontsEveryHubWithProxyV2) {
  const Cluster c = TwoHubs();
  const std::string cfg = HaproxyConfig(c, *c.FindService("haproxy1"), StatePaths("/x/state"));
  EXPECT_NE(cfg.find("bind 10.214.9.30:80\n"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("balance leastconn"), std::string::npos);
  EXPECT_NE(cfg.find("option httpchk GET /healthz"), std::string::npos);
  EXPECT_NE(cfg.find("expose-fd listeners"), std::string::npos);
  EXPECT_NE(cfg.find("stats socket /x/state/run/haproxy1.sock"), std::string::npos);
  EXPECT_NE(cfg.find("server hub1 10.214.9.30:8080 send-proxy-v2 source 10.214.9.30 check "
                     "check-send-proxy\n"),
            std::string::npos);
  EXPECT_NE(cfg.find("server hub2 10.214.9.30:8081 send-proxy-v2"), std::string::npos);
  EXPECT_EQ(cfg, HaproxyConfig(c, *c.FindService("haproxy1"), StatePaths("/x/state")));
}

TEST(TemplatesTest, PostgresListensOnItsHostAndTrustsOnlyItsNetworkWithPasswords) {
  const Cluster c = TwoHubs();
  const Service& db = *c.FindService("postgresql1");
  const std::string conf = PostgresConfig(c, db, "/x/state/run/postgresql1");
  EXPECT_NE(conf.find("listen_addresses = '10.214.9.10'"), std::string::npos);
  EXPECT_NE(conf.find("unix_socket_directories = '/x/state/run/postgresql1'"), std::string::npos);
  const std::string hba = PostgresHba(c, db);
  EXPECT_NE(hba.find("host all postgres 10.214.9.0/24 scram-sha-256"), std::string::npos) << hba;
  EXPECT_EQ(hba.find("trust"), std::string::npos);
  EXPECT_EQ(DatabaseUrl(c), "postgresql://postgres@10.214.9.10:5432/salvus");
  EXPECT_EQ(MemcachedList(c), "10.214.9.10:11211");
}

TEST(TemplatesTest, TheFloatingAddressIsBoundAndHeldByKeepalived) {
  std::string text = R"(
[cluster]
name = "sv14u"
bridge_address = "10.214.9.1/24"
floating_address = "10.214.9.50"
[[hosts]]
name = "a"
kind = "netns"
address = "10.214.9.10"
[[hosts]]
name = "p1"
kind = "netns"
address = "10.214.9.40"
[[hosts]]
name = "p2"
kind = "netns"
address = "10.214.9.41"
[[services]]
type = "postgresql"
host = "a"
[[services]]
type = "compute"
host = "a"
uid_base = 271000
[[services]]
type = "hub"
host = "a"
[[services]]
type = "haproxy"
host = "p1"
[[services]]
type = "haproxy"
host = "p2"
)";
  auto c = ParseCluster(text, "/x/c.toml");
  ASSERT_TRUE(c) << c.error();
  const Service& p1 = *c->FindService("haproxy1");
  const std::string cfg = HaproxyConfig(*c, p1, StatePaths("/x/state"));
  EXPECT_NE(cfg.find("bind 10.214.9.40:80\n"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("bind 10.214.9.50:80 transparent\n"), std::string::npos) << cfg;
  const std::string k1 = KeepalivedConfig(*c, p1, 0);
  const std::string k2 = KeepalivedConfig(*c, *c->FindService("haproxy2"), 1);
  EXPECT_NE(k1.find("10.214.9.50/24 dev eth0"), std::string::npos) << k1;
  EXPECT_NE(k1.find("priority 200"), std::string::npos);
  EXPECT_NE(k2.find("priority 190"), std::string::npos);
  EXPECT_NE(k1.find("http://10.214.9.40:8404/healthz"), std::string::npos);
  EXPECT_NE(k1.find("enable_script_security"), std::string::npos);

  auto error = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    t.replace(t.find(from), from.size(), to);
    auto r = ParseCluster(t, "/x/c.toml");
    return r ? std::string() : r.error();
  };
  EXPECT_NE(error("floating_address = \"10.214.9.50\"", "floating_address = \"10.9.9.9\"")
                .find("not a host address in the bridge's network"),
            std::string::npos);
  EXPECT_NE(error("floating_address = \"10.214.9.50\"", "floating_address = \"10.214.9.41\"")
                .find("is host p2's address"),
            std::string::npos);
  EXPECT_NE(error("type = \"haproxy\"\nhost = \"p2\"", "type = \"memcached\"\nhost = \"p2\"")
                .find("needs two haproxy services"),
            std::string::npos);
  EXPECT_NE(
      error("type = \"haproxy\"\nhost = \"p2\"", "type = \"haproxy\"\nhost = \"p2\"\nport = 81")
          .find("the same port"),
      std::string::npos);
}

TEST(FilesTest, WriteIfChangedWritesOnlyChanges) {
  char tmpl[] = "/tmp/sv14-files-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::filesystem::path f = std::string(tmpl) + "/a.cfg";
  auto w = WriteIfChanged(f, "one\n", 0600);
  ASSERT_TRUE(w && *w);
  struct stat st {};
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto ino = st.st_ino;
  w = WriteIfChanged(f, "one\n", 0600);
  ASSERT_TRUE(w);
  EXPECT_FALSE(*w);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, ino);  // untouched
  w = WriteIfChanged(f, "two\n", 0600);
  ASSERT_TRUE(w && *w);
  EXPECT_EQ(ReadSmallFile(f), "two\n");
  EXPECT_EQ(ReadPid(f), 0);
  ASSERT_TRUE(WriteIfChanged(f, "1234\n"));
  EXPECT_EQ(ReadPid(f), 1234);
  ASSERT_TRUE(WriteIfChanged(f, "-5\n"));
  EXPECT_EQ(ReadPid(f), 0);
  std::filesystem::remove_all(tmpl);
}

TEST(ProcessTest, RunCapturesOutputAndStatus) {
  RunResult r = admin::Run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.output.find("out"), std::string::npos);
  EXPECT_NE(r.output.find("err"), std::string::npos);
  EXPECT_EQ(admin::Run({"/nonexistent/program"}).status, 127);
  r = admin::Run({"sleep", "30"}, {}, std::chrono::seconds(1));
  EXPECT_EQ(r.status, 128 + 9);
  EXPECT_EQ(Quote({"a", "b c", "it's"}), "a 'b c' 'it'\\''s'");
}

TEST(ProcessTest, LaunchedProcessesStop) {
  auto pid = Launch({"sleep", "30"}, {});
  ASSERT_TRUE(pid) << pid.error();
  EXPECT_TRUE(Alive(*pid));
  EXPECT_TRUE(Stop(*pid));
  EXPECT_FALSE(Alive(*pid));
}

}  // namespace
}  // namespace salvus::admin
