#include "hub/permalinks.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace salvus::hub {
namespace {

TEST(Permalinks, ValidIds) {
  EXPECT_TRUE(ValidPermalinkId("Ab3_x-9"));
  EXPECT_TRUE(ValidPermalinkId(std::string(64, 'a')));
  EXPECT_FALSE(ValidPermalinkId(""));
  EXPECT_FALSE(ValidPermalinkId(std::string(65, 'a')));
  EXPECT_FALSE(ValidPermalinkId("a/b"));
  EXPECT_FALSE(ValidPermalinkId("../x"));
  EXPECT_FALSE(ValidPermalinkId("a b"));
}

TEST(Permalinks, WithoutADatabaseEveryRequestIsUnavailable) {
  Permalinks p(nullptr);
  proto::Message m;
  m.set_id(4);
  m.mutable_share()->set_code("1+1");
  std::string got;
  p.Handle(m, [&](std::string json) { got = std::move(json); });
  proto::Message reply;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(got, &reply).ok()) << got;
  EXPECT_EQ(reply.id(), 4u);
  EXPECT_EQ(reply.error().code(), proto::Error::UNAVAILABLE);
  EXPECT_NE(reply.error().text().find("--db"), std::string::npos);
}

}  // namespace
}  // namespace salvus::hub
