#include "registry/encoding.h"

#include <gtest/gtest.h>

#include "store/testing/sample_service.h"

namespace salvus::registry {
namespace {

using store::SampleServiceStatus;

void ExpectSame(const store::ServiceStatus& a, const store::ServiceStatus& b) {
  EXPECT_EQ(a.service.id, b.service.id);
  EXPECT_EQ(a.service.type, b.service.type);
  EXPECT_EQ(a.service.name, b.service.name);
  EXPECT_EQ(a.service.site, b.service.site);
  EXPECT_EQ(a.service.address, b.service.address);
  EXPECT_EQ(a.service.port, b.service.port);
  EXPECT_EQ(a.service.user, b.service.user);
  EXPECT_EQ(a.service.pid, b.service.pid);
  EXPECT_EQ(a.service.monitor_pid, b.service.monitor_pid);
  EXPECT_EQ(a.service.start_ms, b.service.start_ms);
  EXPECT_EQ(a.service.stop_ms, b.service.stop_ms);
  EXPECT_EQ(a.service.running, b.service.running);
  ASSERT_EQ(a.latest.has_value(), b.latest.has_value());
  if (!a.latest) return;
  EXPECT_EQ(a.latest->time_ms, b.latest->time_ms);
  EXPECT_EQ(a.latest->load15, b.latest->load15);  // exact: shortest round-trip form
  EXPECT_EQ(a.latest->pcpu, b.latest->pcpu);
  EXPECT_EQ(a.latest->cputime_s, b.latest->cputime_s);
  EXPECT_EQ(a.latest->rss_kb, b.latest->rss_kb);
  EXPECT_EQ(a.latest->vsize_kb, b.latest->vsize_kb);
  EXPECT_EQ(a.latest->extra, b.latest->extra);
}

TEST(EncodingTest, ServicesRoundTrip) {
  auto a = SampleServiceStatus();
  auto b = SampleServiceStatus();
  b.service.id = 13;
  b.service.name = "";
  b.latest.reset();
  auto text = EncodeServices({a, b});
  auto back = DecodeServices(text);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 2u);
  ExpectSame((*back)[0], a);
  ExpectSame((*back)[1], b);
  EXPECT_EQ(DecodeServices(EncodeServices({}))->size(), 0u);
}

TEST(EncodingTest, GarbageIsAMiss) {
  auto text = EncodeServices({SampleServiceStatus()});
  EXPECT_FALSE(DecodeServices(""));
  EXPECT_FALSE(DecodeServices("salvus-services 2\n"));
  EXPECT_FALSE(DecodeServices(text.substr(0, text.size() - 5)));  // cut short
  EXPECT_FALSE(DecodeServices(text + "X\t1\n"));
  std::string bad = text;
  bad.replace(bad.find("\t6000\t"), 6, "\t6x00\t");
  EXPECT_FALSE(DecodeServices(bad));
  EXPECT_FALSE(DecodeServices("salvus-services 1\nT\t1\t2\n"));
}

TEST(EncodingTest, StatusRoundTrip) {
  auto st = *SampleServiceStatus().latest;
  auto back = DecodeStatus(EncodeStatus(st));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->service_id, 12);
  EXPECT_EQ(back->load1, st.load1);
  EXPECT_EQ(back->pmem, st.pmem);
  EXPECT_EQ(back->walltime_s, st.walltime_s);
  EXPECT_EQ(back->extra, st.extra);
  EXPECT_FALSE(DecodeStatus("salvus-status 1\n1\t2\n"));
  EXPECT_FALSE(DecodeStatus(EncodeServices({SampleServiceStatus()})));
}

}  // namespace
}  // namespace salvus::registry
