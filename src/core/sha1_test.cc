#include "core/sha1.h"

#include <gtest/gtest.h>

namespace salvus::core {
namespace {

TEST(Sha1, KnownDigests) {
  EXPECT_EQ(Sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Sha1Hex(std::string("a\0b", 3)), Sha1Hex(std::string("a\0b", 3)));
  EXPECT_NE(Sha1Hex(std::string("a\0b", 3)), Sha1Hex("a"));
}

TEST(Sha1, ValidatesNames) {
  EXPECT_TRUE(IsSha1Hex("a9993e364706816aba3e25717850c26c9cd0d89d"));
  EXPECT_FALSE(IsSha1Hex("A9993E364706816ABA3E25717850C26C9CD0D89D"));   // lowercase only
  EXPECT_FALSE(IsSha1Hex("a9993e364706816aba3e25717850c26c9cd0d89"));    // 39
  EXPECT_FALSE(IsSha1Hex("a9993e364706816aba3e25717850c26c9cd0d89dd"));  // 41
  EXPECT_FALSE(IsSha1Hex("../../../../etc/passwd/aaaaaaaaaaaaaaaaaaaa"));
  EXPECT_FALSE(IsSha1Hex(""));
}

}  // namespace
}  // namespace salvus::core
