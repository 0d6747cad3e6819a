#include "vault/mail.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "vault/mailer.h"

namespace salvus::vault {
namespace {

namespace fs = std::filesystem;

MailerOptions ToDir(const std::string& dir, size_t max_queue = 64) {
  MailerOptions o;
  o.mail_from = "noreply@salvus.example";
  o.mail_dir = dir;
  o.max_queue = max_queue;
  return o;
}

PasswordResetMail Sample() {
  return {"noreply@salvus.example", "ann@example.org", "https://salvus.example",
          "Tok_en-0123456789",      1'700'000'000,     "abc123"};
}

TEST(Mail, PasswordResetHasHeadersAndLink) {
  const std::string m = ComposePasswordReset(Sample());
  EXPECT_TRUE(m.starts_with("From: Salvus <noreply@salvus.example>\r\n")) << m;
  EXPECT_NE(m.find("\r\nTo: <ann@example.org>\r\n"), std::string::npos);
  EXPECT_NE(m.find("\r\nSubject: Reset your Salvus password\r\n"), std::string::npos);
  EXPECT_NE(m.find("\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"), std::string::npos);
  EXPECT_NE(m.find("\r\nMessage-ID: <abc123@salvus.example>\r\n"), std::string::npos);
  EXPECT_NE(m.find("\r\n\r\n"), std::string::npos);
  EXPECT_NE(m.find("\r\nhttps://salvus.example/#reset=Tok_en-0123456789\r\n"), std::string::npos);
  // Every line ends in CRLF; no bare LF.
  for (size_t i = m.find('\n'); i != std::string::npos; i = m.find('\n', i + 1)) {
    ASSERT_GT(i, 0u);
    EXPECT_EQ(m[i - 1], '\r');
  }
}

TEST(Mail, SiteUrlIsChecked) {
  EXPECT_EQ(NormalizeSiteUrl("https://salvus.example/").value(), "https://salvus.example");
  EXPECT_EQ(NormalizeSiteUrl("http://127.0.0.1:8080").value(), "http://127.0.0.1:8080");
  for (const char* bad : {"", "ftp://x", "https://", "https://a b", "https://x\r\nBcc: y",
                          "https://x\">", "javascript:alert(1)"}) {
    EXPECT_FALSE(NormalizeSiteUrl(bad)) << bad;
  }
}

TEST(Mail, MailFromIsAnAsciiAddress) {
  EXPECT_EQ(CheckMailFrom("NoReply@Salvus.Example").value(), "noreply@salvus.example");
  EXPECT_FALSE(CheckMailFrom("Salvus <noreply@salvus.example>"));
  EXPECT_FALSE(CheckMailFrom("\xc3\xa9@salvus.example"));
}

TEST(Mailer, WritesEachMailAsAPrivateFileWithoutARelay) {
  char tmpl[] = "/tmp/salvus-mailer-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  {
    Mailer m(ToDir(dir));
    std::promise<std::expected<std::string, std::string>> got;
    ASSERT_TRUE(m.Submit("ann@example.org", "Subject: hi\r\n\r\nbody\r\n",
                         [&](auto r) { got.set_value(std::move(r)); }));
    auto r = got.get_future().get();
    ASSERT_TRUE(r) << r.error();
    EXPECT_TRUE(r->starts_with(dir + "/")) << *r;
    EXPECT_TRUE(r->ends_with(".eml"));
    EXPECT_EQ(fs::status(*r).permissions(), fs::perms::owner_read | fs::perms::owner_write);
    std::stringstream ss;
    ss << std::ifstream(*r).rdbuf();
    EXPECT_EQ(ss.str(), "Subject: hi\r\n\r\nbody\r\n");
  }
  fs::remove_all(dir);
}

TEST(Mailer, QueueIsBounded) {
  // max_queue mails may wait; with 0, none may.
  Mailer m(ToDir("/nonexistent", 0));
  EXPECT_FALSE(m.Submit("ann@example.org", "x", [](auto) {}));
}

TEST(Mailer, AFailedDeliverySaysWhy) {
  Mailer m(ToDir("/nonexistent/folder"));
  std::promise<std::expected<std::string, std::string>> got;
  ASSERT_TRUE(m.Submit("ann@example.org", "x", [&](auto r) { got.set_value(std::move(r)); }));
  auto r = got.get_future().get();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cannot create"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace salvus::vault
