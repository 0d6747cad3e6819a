#include "hub/query_string.h"

#include <gtest/gtest.h>

#include <string>

namespace salvus::hub {
namespace {

TEST(QueryString, ParsesAndDecodes) {
  auto p = ParseQuery("service=3&q=disk%20full+now&empty=&flag");
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->size(), 4u);
  EXPECT_EQ(p->at("service"), "3");
  EXPECT_EQ(p->at("q"), "disk full now");
  EXPECT_EQ(p->at("empty"), "");
  EXPECT_EQ(p->at("flag"), "");
  EXPECT_EQ(ParseQuery("q=%C3%A9")->at("q"), "\xC3\xA9");
  EXPECT_TRUE(ParseQuery("")->empty());
  EXPECT_TRUE(ParseQuery("&&")->empty());
  auto t = ParseTarget("/admin/api/log?service=1&limit=5");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/admin/api/log");
  EXPECT_EQ(t->params.at("limit"), "5");
  EXPECT_EQ(ParseTarget("/admin")->path, "/admin");
}

TEST(QueryString, RejectsWhatABrowserWouldNotSend) {
  for (const char* bad : {"q=%", "q=%4", "q=%zz", "q=%G1", "a=1&a=2", "q=%ff%fe", "q=a%00b"}) {
    EXPECT_FALSE(ParseQuery(bad)) << bad;
  }
  // Bounded: parameters, and the bytes of each.
  std::string many;
  for (size_t i = 0; i <= kMaxQueryParams; ++i) many += "p" + std::to_string(i) + "=1&";
  EXPECT_FALSE(ParseQuery(many));
  EXPECT_TRUE(ParseQuery("q=" + std::string(kMaxQueryValue, 'a')));
  EXPECT_FALSE(ParseQuery("q=" + std::string(kMaxQueryValue + 1, 'a')));
  EXPECT_FALSE(ParseQuery(std::string(kMaxQueryValue + 1, 'a') + "=1"));
}

TEST(QueryString, BoundedInts) {
  EXPECT_EQ(ParseBoundedInt("42", 1, 100), 42);
  EXPECT_EQ(ParseBoundedInt("1", 1, 1), 1);
  EXPECT_EQ(ParseBoundedInt("0", 0, 5), 0);
  for (const char* bad : {"", "0", "101", "-1", "+5", " 5", "5 ", "1e3", "0x10", "5.0",
                          "99999999999999999999", "NaN", "007", "0010000"}) {
    EXPECT_FALSE(ParseBoundedInt(bad, 1, 100)) << bad;
  }
}

}  // namespace
}  // namespace salvus::hub
