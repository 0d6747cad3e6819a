#include "registry/registry.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "core/spawn.h"
#include "registry/encoding.h"
#include "store/testing/fake_store.h"
#include "store/testing/sample_service.h"

namespace salvus::registry {
namespace {

using store::SampleServiceStatus;

TEST(RegistryTest, CachedServicesUseTheFreshestStatus) {
  MemoryCache cache;
  EXPECT_FALSE(CachedRunningServices(cache));
  auto a = SampleServiceStatus();
  auto b = SampleServiceStatus();
  b.service.id = 13;
  b.latest.reset();
  CacheRunningServices(cache, {a, b});
  auto newer = *a.latest;
  newer.time_ms += 6000;
  newer.pcpu = 99;
  cache.Set(StatusKey(12), EncodeStatus(newer), std::chrono::seconds(0));
  auto older = *a.latest;
  older.service_id = 13;
  older.time_ms = 5;
  cache.Set(StatusKey(13), EncodeStatus(older), std::chrono::seconds(0));
  auto got = CachedRunningServices(cache);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].latest->pcpu, 99);
  ASSERT_TRUE((*got)[1].latest);  // had none: any is newer
  EXPECT_EQ((*got)[1].latest->time_ms, 5);
  // A stale status does not replace a newer listed one.
  auto stale = *a.latest;
  stale.time_ms -= 6000;
  cache.Set(StatusKey(12), EncodeStatus(stale), std::chrono::seconds(0));
  EXPECT_EQ((*CachedRunningServices(cache))[0].latest->time_ms, a.latest->time_ms);
  cache.Set(kServicesKey, "garbage", std::chrono::seconds(0));
  EXPECT_FALSE(CachedRunningServices(cache));
}

TEST(RegistryTest, StoredServicesAreCachedForTheNextReader) {
  boost::asio::io_context io;
  store::FakeStore db(io.get_executor());
  auto s = SampleServiceStatus().service;
  s.running = true;
  db.services[1] = s;
  db.services[1].id = 1;
  auto stopped = s;
  stopped.id = 2;
  stopped.running = false;
  db.services[2] = stopped;
  MemoryCache cache;
  std::optional<store::Result<std::vector<store::ServiceStatus>>> got;
  // Named: the coroutine reads its captures from the lambda, which must outlive it.
  auto read = [&]() -> boost::asio::awaitable<void> {
    got = co_await StoredRunningServices(db, cache);
  };
  core::Spawn(io.get_executor(), read(), "StoredRunningServices");
  io.run();
  ASSERT_TRUE(got && *got) << (got ? got->error() : "no answer");
  ASSERT_EQ((*got)->size(), 1u);
  EXPECT_EQ((**got)[0].service.id, 1);
  auto cached = CachedRunningServices(cache);
  ASSERT_TRUE(cached);
  ASSERT_EQ(cached->size(), 1u);
  EXPECT_EQ((*cached)[0].service.name, s.name);
}

}  // namespace
}  // namespace salvus::registry
