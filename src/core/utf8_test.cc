#include "core/utf8.h"

#include <gtest/gtest.h>

namespace salvus::core {

namespace {
std::string Clean(std::string_view in) {
  Utf8Sanitizer s;
  std::string out;
  s.Feed(in, &out);
  s.Finish(&out);
  return out;
}
}  // namespace

TEST(Utf8, ValidPassesThrough) {
  EXPECT_EQ(Clean("hello"), "hello");
  EXPECT_EQ(Clean("π ≈ 3.14 😀"), "π ≈ 3.14 😀");
  EXPECT_TRUE(IsValidUtf8("π😀"));
}

TEST(Utf8, InvalidBecomesReplacement) {
  EXPECT_EQ(Clean("a\xff"
                  "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(Clean("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(Clean("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(Clean("x\xE2\x82"), "x\xEF\xBF\xBD");                            // truncated at end
  EXPECT_FALSE(IsValidUtf8("a\xff"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
  EXPECT_TRUE(IsValidUtf8(Clean("\x80\x81\xfe\xff abc \xF4\x90\x80\x80")));
}

TEST(Utf8, SplitSequencesSurviveChunking) {
  const std::string text = "aπ😀b€";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Utf8Sanitizer s;
    std::string out;
    s.Feed(std::string_view(text).substr(0, cut), &out);
    s.Feed(std::string_view(text).substr(cut), &out);
    s.Finish(&out);
    EXPECT_EQ(out, text) << "cut at " << cut;
  }
}

TEST(Utf8, ByteByByte) {
  const std::string text = "😀\xff€";
  Utf8Sanitizer s;
  std::string out;
  for (char c : text) s.Feed(std::string_view(&c, 1), &out);
  s.Finish(&out);
  EXPECT_EQ(out, "😀\xEF\xBF\xBD€");
}

}  // namespace salvus::core
