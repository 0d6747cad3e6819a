#include "accounts/tokens.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <set>

namespace salvus::accounts {
namespace {

TEST(Tokens, Shapes) {
  ASSERT_GE(sodium_init(), 0);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto id = NewAccountId();
    EXPECT_TRUE(IsAccountId(id)) << id;
    auto t = NewToken();
    EXPECT_TRUE(IsToken(t)) << t;
    EXPECT_TRUE(seen.insert(id).second);
    EXPECT_TRUE(seen.insert(t).second);
  }
  EXPECT_FALSE(IsAccountId(std::string(32, 'A')));
  EXPECT_FALSE(IsToken(std::string(63, 'a')));
  EXPECT_FALSE(IsToken(std::string(64, 'g')));
  EXPECT_EQ(TokenHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Tokens, CookieValue) {
  EXPECT_EQ(CookieValue("salvus_session=abc", "salvus_session"), "abc");
  EXPECT_EQ(CookieValue("a=1; salvus_session=\"x y\" ; b=2", "salvus_session"), "x y");
  EXPECT_EQ(CookieValue("xsalvus_session=1; salvus_session=2", "salvus_session"), "2");
  EXPECT_FALSE(CookieValue("a=1; b=2", "salvus_session"));
  EXPECT_FALSE(CookieValue("", "salvus_session"));
  EXPECT_FALSE(CookieValue(";;;=;", "salvus_session"));
  EXPECT_EQ(CookieValue("salvus_session=", "salvus_session"), "");
}

TEST(Tokens, SetCookie) {
  const std::string c = SessionSetCookie("tok", false, 60);
  EXPECT_EQ(c, "salvus_session=tok; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
  EXPECT_TRUE(SessionSetCookie("tok", true, 60).ends_with("; Secure"));
  EXPECT_NE(ClearSessionCookie(false).find("Max-Age=0"), std::string::npos);
}

}  // namespace
}  // namespace salvus::accounts
