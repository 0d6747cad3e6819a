#include "core/token.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace salvus::core {
namespace {
std::string WriteTemp(const std::string& content) {
  char path[] = "/tmp/salvus-token-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << content;
  return path;
}
}  // namespace

TEST(Token, ReadsAndTrims) {
  auto p = WriteTemp("  0123456789abcdef0123\n");
  auto t = ReadTokenFile(p);
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(*t, "0123456789abcdef0123");
  std::remove(p.c_str());
}

TEST(Token, RejectsEmptyShortAndMissing) {
  auto empty = WriteTemp("\n \n");
  EXPECT_FALSE(ReadTokenFile(empty));
  auto shortp = WriteTemp("abc");
  EXPECT_NE(ReadTokenFile(shortp).error().find("shorter"), std::string::npos);
  EXPECT_FALSE(ReadTokenFile("/nonexistent/token"));
  std::remove(empty.c_str());
  std::remove(shortp.c_str());
}

TEST(Token, Compare) {
  EXPECT_TRUE(TokensEqual("abcdefgh", "abcdefgh"));
  EXPECT_FALSE(TokensEqual("abcdefgh", "abcdefgi"));
  EXPECT_FALSE(TokensEqual("abc", "abcd"));
}

}  // namespace salvus::core
