#include "cli/display_text.h"

#include <gtest/gtest.h>

namespace salvus::cli {
namespace {

TEST(HubDisplay, OneLineForBlobsTextForText) {
  proto::Display d;
  d.set_mime("image/png");
  d.set_blob("0123456789abcdef0123456789abcdef01234567");
  d.set_width(640);
  d.set_height(480);
  EXPECT_EQ(DisplayText(d, "http://h:1"),
            "[image/png 640x480: http://h:1/blobs/0123456789abcdef0123456789abcdef01234567]");
  d.clear_width();
  d.clear_height();
  d.set_mime("application/x-salvus-file");
  d.set_name("data.csv");
  EXPECT_EQ(DisplayText(d, "http://h:1"),
            "[application/x-salvus-file data.csv: "
            "http://h:1/blobs/0123456789abcdef0123456789abcdef01234567]");
  proto::Display t;
  t.set_mime("text/html");
  t.set_text("<b>hi</b>\n");
  EXPECT_EQ(DisplayText(t, "http://h:1"), "<b>hi</b>");
  t.set_mime("text/latex");
  t.set_text("\\frac{1}{2}");
  EXPECT_EQ(DisplayText(t, "http://h:1"), "\\frac{1}{2}");
  t.set_mime("text/markdown");
  t.set_text("# Title");
  EXPECT_EQ(DisplayText(t, "http://h:1"), "# Title");
  proto::Display i;
  i.set_mime("application/x-salvus-interact");
  i.set_name("i1");
  i.set_text("{}");
  EXPECT_EQ(DisplayText(i, "http://h:1"),
            "[application/x-salvus-interact i1: open the worksheet in a browser to use it]");
}

}  // namespace
}  // namespace salvus::cli
