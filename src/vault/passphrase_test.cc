#include "vault/passphrase.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace salvus::vault {
namespace {

// A pipe's read end holding `text`.
int FdWith(const std::string& text) {
  int p[2];
  if (pipe(p) != 0) return -1;
  (void)!write(p[1], text.data(), text.size());
  close(p[1]);
  return p[0];
}

TEST(Passphrase, FirstLineOfTheFd) {
  EXPECT_EQ(ReadPassphraseFd(FdWith("pass word\r\nnext line\n")).value(), "pass word");
  EXPECT_EQ(ReadPassphraseFd(FdWith("no newline")).value(), "no newline");
}

TEST(Passphrase, EmptyOrOverlongIsRefused) {
  EXPECT_FALSE(ReadPassphraseFd(FdWith("")));
  EXPECT_FALSE(ReadPassphraseFd(FdWith("\n")));
  EXPECT_TRUE(ReadPassphraseFd(FdWith(std::string(kMaxPassphrase, 'x'))));
  auto r = ReadPassphraseFd(FdWith(std::string(kMaxPassphrase + 1, 'x')));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("longer than"), std::string::npos);
  EXPECT_FALSE(ReadPassphraseFd(-1));
}

}  // namespace
}  // namespace salvus::vault
