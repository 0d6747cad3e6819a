#include "hub/admin_access.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace salvus::hub {
namespace {

namespace http = boost::beast::http;
using boost::asio::ip::make_address;

const std::string kToken = "0123456789abcdef0123456789abcdef";

http::request<http::string_body> Req() { return {http::verb::get, "/admin/api/services", 11}; }

TEST(AdminAccess, LoopbackWithTheTokenOnly) {
  auto req = Req();
  const auto lo = make_address("127.0.0.1");
  EXPECT_EQ(CheckAdminAccess(req, lo, kToken), AdminAccess::kNoToken);
  req.set(http::field::authorization, "Bearer " + kToken);
  EXPECT_EQ(CheckAdminAccess(req, lo, kToken), AdminAccess::kAllowed);
  EXPECT_EQ(CheckAdminAccess(req, make_address("127.8.9.10"), kToken), AdminAccess::kAllowed);
  EXPECT_EQ(CheckAdminAccess(req, make_address("::1"), kToken), AdminAccess::kAllowed);
  EXPECT_EQ(CheckAdminAccess(req, make_address("::ffff:127.0.0.1"), kToken), AdminAccess::kAllowed);
  // The right token from anywhere else: refused.
  for (const char* remote :
       {"10.0.0.1", "192.168.1.5", "8.8.8.8", "::ffff:10.0.0.1", "fe80::1", "0.0.0.0", "::"}) {
    EXPECT_EQ(CheckAdminAccess(req, make_address(remote), kToken), AdminAccess::kNotLoopback)
        << remote;
  }
  EXPECT_EQ(CheckAdminAccess(req, {}, kToken), AdminAccess::kNotLoopback);  // peer unknown
}

TEST(AdminAccess, WrongTokensAndCookies) {
  const auto lo = make_address("127.0.0.1");
  const std::vector<std::string> wrong = {"Bearer " + kToken.substr(1),
                                          "Bearer " + kToken + "x",
                                          "bearer " + kToken,
                                          kToken,
                                          "Basic " + kToken,
                                          "Bearer ",
                                          "Bearer x"};
  for (const std::string& auth : wrong) {
    auto req = Req();
    req.set(http::field::authorization, auth);
    EXPECT_EQ(CheckAdminAccess(req, lo, kToken), AdminAccess::kNoToken) << auth;
  }
  // A hub without a token opens /admin to nobody, whatever is sent.
  auto req = Req();
  req.set(http::field::authorization, "Bearer ");
  EXPECT_EQ(CheckAdminAccess(req, lo, ""), AdminAccess::kNoToken);
  EXPECT_FALSE(MatchesToken("", ""));
  EXPECT_TRUE(MatchesToken(kToken, kToken));

  const std::string cookie = AdminCookieValue(kToken);
  EXPECT_EQ(cookie.size(), 64u);
  EXPECT_EQ(cookie.find(kToken), std::string::npos);  // not the token itself
  EXPECT_NE(cookie, AdminCookieValue(kToken + "x"));
  auto with = [&](const std::string& c) {
    auto r = Req();
    r.set(http::field::cookie, c);
    return CheckAdminAccess(r, lo, kToken);
  };
  EXPECT_EQ(with("salvus_admin=" + cookie), AdminAccess::kAllowed);
  EXPECT_EQ(with("a=1; salvus_admin=" + cookie + "; b=2"), AdminAccess::kAllowed);
  EXPECT_EQ(with("salvus_admin=" + kToken), AdminAccess::kNoToken);
  EXPECT_EQ(with("salvus_admin=" + cookie.substr(1)), AdminAccess::kNoToken);
  EXPECT_EQ(with("xsalvus_admin=" + cookie), AdminAccess::kNoToken);
  EXPECT_EQ(with("salvus_admin="), AdminAccess::kNoToken);
  auto remote = Req();
  remote.set(http::field::cookie, "salvus_admin=" + cookie);
  EXPECT_EQ(CheckAdminAccess(remote, make_address("10.1.2.3"), kToken), AdminAccess::kNotLoopback);
}

// Issue 15's seam: an operator account passes from anywhere.
TEST(AdminAccess, OperatorAccountsSeam) {
  auto req = Req();
  req.set(http::field::cookie, "session=op");
  OperatorCheck op = [](const auto& r) { return r[http::field::cookie] == "session=op"; };
  EXPECT_EQ(CheckAdminAccess(req, make_address("10.0.0.1"), kToken, op), AdminAccess::kAllowed);
  EXPECT_EQ(CheckAdminAccess(Req(), make_address("10.0.0.1"), kToken, op),
            AdminAccess::kNotLoopback);
}

}  // namespace
}  // namespace salvus::hub
