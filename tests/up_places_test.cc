// Where `salvus up` puts sessions, decided at startup so no cell fails for
// it: session homes that session uids can reach although the data folder's
// parent lets no one through (a `mktemp -d`, a checkout under /root), and a
// block of session uids of its own when another `salvus up` runs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "client/hub_client.h"
#include "util/up_process.h"

namespace salvus {
namespace {

namespace fs = std::filesystem;
using testutil::UpProcess;
using testutil::UpSetup;

std::string TwoPlusTwo(const UpProcess& up) {
  client::HubClientOptions o;
  o.url = up.url();
  o.connect_timeout_s = 10;
  auto c = client::HubClient::Connect(o);
  if (!c) return "connect: " + c.error();
  auto s = (*c)->StartSession();
  if (!s) return "start: " + s.error();
  auto r = (*c)->Execute(*s, "print(2 + 2)");
  (*c)->Close();
  if (!r) return "execute: " + r.error();
  return r->out + r->err;
}

TEST(UpPlaces, DataInAFolderNoOtherUserCanEnterStillRunsCells) {
  if (geteuid() != 0) GTEST_SKIP() << "sessions have uids of their own only as root";
  UpProcess up({"--kernel", "python"}, UpSetup{.private_parent = true});
  ASSERT_TRUE(up.ok()) << up.log();
  EXPECT_EQ(TwoPlusTwo(up), "4\n");
  const std::string out = testutil::ReadFile(up.dir() + "/up.out");
  const size_t at = out.find("session homes are in /var/lib/salvus/up-");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string homes = out.substr(at + 21, out.find(' ', at + 21) - (at + 21));
  EXPECT_TRUE(fs::is_directory(homes)) << homes;
  EXPECT_EQ(up.Stop(), "");
  EXPECT_FALSE(fs::exists(homes)) << "removed when `salvus up` stops";
}

TEST(UpPlaces, ASecondUpWithoutUidBaseTakesAFreeBlockAndSaysWhich) {
  if (geteuid() != 0) GTEST_SKIP() << "sessions have uids of their own only as root";
  UpProcess first({"--kernel", "python"}, UpSetup{.own_uids = false});
  ASSERT_TRUE(first.ok()) << first.log();
  UpProcess second({"--kernel", "python"}, UpSetup{.own_uids = false});
  ASSERT_TRUE(second.ok()) << second.log();
  EXPECT_GE(first.uid_base(), 200000u);
  EXPECT_GE(second.uid_base(), 200000u);
  EXPECT_NE(first.uid_base(), second.uid_base());
  EXPECT_EQ((second.uid_base() - 200000) % 1000, 0u);
  EXPECT_EQ(TwoPlusTwo(first), "4\n");
  EXPECT_EQ(TwoPlusTwo(second), "4\n");
  EXPECT_EQ(second.Stop(), "");
  EXPECT_EQ(first.Stop(), "");
}

}  // namespace
}  // namespace salvus
