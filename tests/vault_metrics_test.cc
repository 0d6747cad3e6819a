// The vault's /metrics (--metrics-listen): counts of what hubs asked and of
// what was refused, read back over HTTP; nothing in them names an address
// or an account.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

#include "util/raw_http.h"
#include "util/vault_fixture.h"

namespace salvus {
namespace {

using testutil::kToken;
using testutil::VaultClient;
using testutil::VaultTest;
using testutil::WaitFor;
using namespace std::chrono_literals;

constexpr char kAccount[] = "0123456789abcdef0123456789abcdef";
constexpr char kAddress[] = "metrics.person@example.org";

// The port the vault's log names for its metrics (0: not logged yet).
uint16_t MetricsPort(const std::string& log) {
  std::smatch m;
  static const std::regex re(R"(metrics on http://\S+ \(port (\d+)\))");
  return std::regex_search(log, m, re) ? static_cast<uint16_t>(std::stoi(m[1])) : 0;
}

// The figure of `series` (its name with labels, as exposed), or -1.
double Figure(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

class VaultMetricsTest : public VaultTest {};

TEST_F(VaultMetricsTest, CountsRequestsAndRefusalsAndNamesNoOne) {
  const uint16_t port = StartVault({"--metrics-listen", "127.0.0.1:0"});
  ASSERT_NE(port, 0) << VaultLog();
  uint16_t metrics = 0;
  ASSERT_TRUE(WaitFor([&] { return (metrics = MetricsPort(VaultLog())) != 0; }, 10s)) << VaultLog();

  auto hub = Hub(port);
  EXPECT_TRUE(Register(*hub, kAddress, kAccount).registered().created());
  EXPECT_EQ(Lookup(*hub, kAddress).looked_up().account_id(), kAccount);
  {
    VaultClient stranger(port, dir_ + "/ca.pem");
    EXPECT_FALSE(stranger.Hello("not the token"));
  }
  {
    VaultClient garbled(port, dir_ + "/ca.pem");
    garbled.SendRaw(std::string("\0\0\0\3\xff\xff\xff", 7));
    ASSERT_TRUE(garbled.Receive());
  }

  std::string text;
  // The two refused connections are let go of asynchronously.
  ASSERT_TRUE(WaitFor(
      [&] {
        text = "\n" + testutil::HttpGet(metrics, "/metrics");
        return Figure(text, "salvus_vault_hubs") == 1;
      },
      10s))
      << text;
  EXPECT_NE(text.find("HTTP/1.1 200 OK"), std::string::npos) << text;
  EXPECT_EQ(Figure(text, R"(salvus_vault_requests_total{op="register",outcome="ok"})"), 1) << text;
  EXPECT_EQ(Figure(text, R"(salvus_vault_requests_total{op="lookup",outcome="ok"})"), 1) << text;
  // Register and Lookup each asked for the public key first.
  EXPECT_EQ(Figure(text, R"(salvus_vault_requests_total{op="public_key",outcome="ok"})"), 2)
      << text;
  EXPECT_EQ(Figure(text, R"(salvus_vault_connections_refused_total{reason="token"})"), 1) << text;
  EXPECT_EQ(Figure(text, R"(salvus_vault_connections_refused_total{reason="malformed"})"), 1)
      << text;
  EXPECT_EQ(Figure(text, "salvus_vault_request_seconds_count"), 4) << text;
  EXPECT_EQ(text.find(kAddress), std::string::npos);
  EXPECT_EQ(text.find(kAccount), std::string::npos);
  // Only /metrics is served there.
  EXPECT_EQ(testutil::RawHttp(metrics, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", true),
            "HTTP/1.1 404 Not Found");
}

}  // namespace
}  // namespace salvus
