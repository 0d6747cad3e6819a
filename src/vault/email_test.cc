#include "vault/email.h"

#include <gtest/gtest.h>

namespace salvus::vault {
namespace {

TEST(NormalizeEmail, TrimsAndLowercasesAsciiEverywhere) {
  EXPECT_EQ(NormalizeEmail("  Ann.Lee@Example.ORG \r\n").value(), "ann.lee@example.org");
  EXPECT_EQ(NormalizeEmail("ann+Tag@example.org").value(), "ann+tag@example.org");
  // Gmail's dots are kept: another address to a mail server.
  EXPECT_NE(NormalizeEmail("a.nn@gmail.com").value(), NormalizeEmail("ann@gmail.com").value());
}

TEST(NormalizeEmail, KeepsNonAsciiBytesAsGiven) {
  // No Unicode case folding: "É" stays "É", only ASCII letters change.
  EXPECT_EQ(NormalizeEmail("\xc3\x89LISE@Example.fr").value(), "\xc3\x89lise@example.fr");
}

TEST(NormalizeEmail, RefusesWhatIsNotAnAddress) {
  for (const char* bad :
       {"", "   ", "ann", "@example.org", "ann@", "ann@@example.org", "a@b@example.org",
        "ann@example", "ann@.org", "ann@example.", "ann lee@example.org", "ann@exa\tmple.org",
        "ann\r\nBcc: x@y.z", "ann@example.org\x7f"}) {
    EXPECT_FALSE(NormalizeEmail(bad)) << bad;
  }
  EXPECT_FALSE(NormalizeEmail("\xff\xfe@example.org"));  // not UTF-8
  const std::string longest = std::string(kMaxEmail - 12, 'a') + "@example.org";
  EXPECT_TRUE(NormalizeEmail(longest));
  EXPECT_FALSE(NormalizeEmail("a" + longest));
}

TEST(NormalizeEmail, ErrorsNeverQuoteTheAddress) {
  auto r = NormalizeEmail("secret-person@nowhere");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().find("secret-person"), std::string::npos);
}

TEST(AccountId, Is32LowercaseHexDigits) {
  EXPECT_TRUE(ValidAccountId("0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(ValidAccountId("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(ValidAccountId("0123456789abcdef0123456789abcde"));
  EXPECT_FALSE(ValidAccountId("0123456789abcdef0123456789abcdefa"));
  EXPECT_FALSE(ValidAccountId("0123456789abcdef0123456789abcdeg"));
}

TEST(MailToken, ShapeIsCapped) {
  EXPECT_TRUE(ValidMailToken("abcdefghijklmnop"));
  EXPECT_TRUE(ValidMailToken(std::string(128, 'Z')));
  EXPECT_FALSE(ValidMailToken(std::string(129, 'Z')));
  EXPECT_FALSE(ValidMailToken("abcdefghijklmno"));
  EXPECT_FALSE(ValidMailToken("abcdefghijklmnop\r\n"));
  EXPECT_FALSE(ValidMailToken("abcdefghijklmnop/../"));
}

}  // namespace
}  // namespace salvus::vault
