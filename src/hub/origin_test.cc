#include "hub/origin.h"

#include <gtest/gtest.h>

namespace salvus::hub {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Request = http::request<http::string_body>;

Request Upgrade(const std::string& host, const std::string& origin) {
  Request req{http::verb::get, "/ws", 11};
  req.set(http::field::host, host);
  if (!origin.empty()) req.set(http::field::origin, origin);
  return req;
}

HubOrigin At(const std::string& ip, uint16_t port, bool tls = false) {
  return OwnOrigin({asio::ip::make_address(ip), port}, tls);
}

TEST(Origin, NoOriginIsNoPage) {
  EXPECT_TRUE(OriginAllowed(Upgrade("x", ""), At("127.0.0.1", 8080), {}));
}

// DNS rebinding: evil.example resolves to the hub's address, so the page's
// Host and Origin agree with each other, but not with the hub.
TEST(Origin, TheHostHeaderDoesNotVouchForTheOrigin) {
  const HubOrigin hub = At("127.0.0.1", 8080);
  EXPECT_FALSE(OriginAllowed(Upgrade("evil.example:8080", "http://evil.example:8080"), hub, {}));
  EXPECT_FALSE(OriginAllowed(Upgrade("hub.example:8080", "https://hub.example:8080"),
                             At("10.0.0.5", 8080, true), {}));
}

TEST(Origin, TheHubsOwnAddressPasses) {
  const HubOrigin loop = At("127.0.0.1", 8080);
  EXPECT_TRUE(OriginAllowed(Upgrade("127.0.0.1:8080", "http://127.0.0.1:8080"), loop, {}));
  EXPECT_TRUE(OriginAllowed(Upgrade("localhost:8080", "http://localhost:8080"), loop, {}));
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "http://LocalHost:8080"), loop, {}));
  EXPECT_FALSE(OriginAllowed(Upgrade("x", "http://127.0.0.1:8081"), loop, {}));  // another port
  EXPECT_FALSE(OriginAllowed(Upgrade("x", "http://127.0.0.1"), loop, {}));
  const HubOrigin lan = At("10.0.0.5", 8080);
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "http://10.0.0.5:8080"), lan, {}));
  EXPECT_FALSE(OriginAllowed(Upgrade("x", "http://localhost:8080"), lan, {}));
  const HubOrigin v6 = At("::1", 8080);
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "http://[::1]:8080"), v6, {}));
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "http://localhost:8080"), v6, {}));
  // A dual-stack socket reached over IPv4.
  const HubOrigin mapped = At("::ffff:127.0.0.1", 8080);
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "http://127.0.0.1:8080"), mapped, {}));
  // A default port may be left out.
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "http://10.0.0.5"), At("10.0.0.5", 80), {}));
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "https://10.0.0.5"), At("10.0.0.5", 443, true), {}));
}

TEST(Origin, TheSchemeMustBeTheHubs) {
  // An https page on a plain-http hub is not the hub's page (and the other way round).
  EXPECT_FALSE(OriginAllowed(Upgrade("x", "https://127.0.0.1:8080"), At("127.0.0.1", 8080), {}));
  EXPECT_FALSE(
      OriginAllowed(Upgrade("x", "http://127.0.0.1:8080"), At("127.0.0.1", 8080, true), {}));
  EXPECT_TRUE(
      OriginAllowed(Upgrade("x", "https://127.0.0.1:8080"), At("127.0.0.1", 8080, true), {}));
  // Unless allowed by name.
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "https://127.0.0.1:8080"), At("127.0.0.1", 8080),
                            {"https://127.0.0.1:8080"}));
}

TEST(Origin, AllowedOriginsAndMalformedOnes) {
  const HubOrigin hub = At("127.0.0.1", 8080);
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "https://course.example.org"), hub,
                            {"https://course.example.org"}));
  EXPECT_FALSE(OriginAllowed(Upgrade("x", "https://course.example.org:444"), hub,
                             {"https://course.example.org"}));
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "https://anything.example"), hub, {"*"}));
  for (const char* bad : {"null", "127.0.0.1:8080", "ftp://127.0.0.1:8080", "http://",
                          "http://127.0.0.1:", "http://127.0.0.1:8080/", "http://127.0.0.1:99999",
                          "http://127.0.0.1:8080x", "http://[::1:8080"}) {
    EXPECT_FALSE(OriginAllowed(Upgrade("127.0.0.1:8080", bad), hub, {})) << bad;
  }
}

// Behind haproxy the hub is reached at its own address, but pages come
// from the site's: --public-origin.
TEST(Origin, APublicOriginIsTheHubsOwnBehindAProxy) {
  const auto site = ParsePublicOrigin("https://Salvus.Example");
  ASSERT_TRUE(site);
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "https://salvus.example"), *site, {}));
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "https://salvus.example:443"), *site, {}));
  EXPECT_FALSE(OriginAllowed(Upgrade("x", "http://salvus.example"), *site, {}));
  EXPECT_FALSE(OriginAllowed(Upgrade("x", "https://salvus.example:8443"), *site, {}));
  EXPECT_FALSE(OriginAllowed(Upgrade("x", "https://evil.example"), *site, {}));
  // The address the connection reached is not the site.
  EXPECT_FALSE(OriginAllowed(Upgrade("x", "https://127.0.0.1"), *site, {}));
  EXPECT_FALSE(OriginAllowed(Upgrade("x", "https://localhost"), *site, {}));
  const auto port = ParsePublicOrigin("http://[::1]:8080");
  ASSERT_TRUE(port);
  EXPECT_TRUE(OriginAllowed(Upgrade("x", "http://[::1]:8080"), *port, {}));
  for (const char* bad :
       {"", "salvus.example", "ftp://salvus.example", "https://", "https://salvus.example:0",
        "https://salvus.example:99999", "https://salvus.example/"}) {
    EXPECT_FALSE(ParsePublicOrigin(bad)) << bad;
  }
}

}  // namespace
}  // namespace salvus::hub
