#include "core/hex.h"

#include <gtest/gtest.h>

namespace salvus::core {
namespace {

TEST(Hex, EncodesEveryByteAsTwoLowercaseDigits) {
  EXPECT_EQ(HexEncode(std::string_view("")), "");
  EXPECT_EQ(HexEncode(std::string_view("\x00\x0f\xa5\xff", 4)), "000fa5ff");
}

TEST(Hex, RandomHexHasTheAskedLengthAndDiffers) {
  const std::string a = RandomHex(16), b = RandomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace salvus::core
