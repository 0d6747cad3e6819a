#include "registry/cache.h"

#include <gtest/gtest.h>
#include <libmemcached/memcached.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "util/memcached_process.h"

namespace salvus::registry {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(CacheTest, NoServerIsDisabled) {
  auto c = OpenCache("");
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE((*c)->enabled());
  EXPECT_FALSE((*c)->Set("k", "v", 10s));
  EXPECT_FALSE((*c)->Get("k"));
  EXPECT_FALSE((*c)->Delete("k"));
}

TEST(CacheTest, BadServerListIsAnError) {
  EXPECT_FALSE(OpenCache("localhost").has_value());
  EXPECT_FALSE(OpenCache("localhost:0").has_value());
  EXPECT_FALSE(OpenCache("127.0.0.1:11211,").has_value());
  EXPECT_TRUE(OpenCache("127.0.0.1:11211,[::1]:11212").has_value());
}

TEST(CacheTest, MemoryCache) {
  MemoryCache c;
  EXPECT_TRUE(c.enabled());
  EXPECT_FALSE(c.Get("a"));
  EXPECT_TRUE(c.Set("a", "1", 0s));
  EXPECT_EQ(c.Get("a"), "1");
  EXPECT_TRUE(c.Set("a", "2", 0s));
  EXPECT_EQ(c.Get("a"), "2");
  EXPECT_TRUE(c.Delete("a"));
  EXPECT_TRUE(c.Delete("a"));
  EXPECT_FALSE(c.Get("a"));
}

TEST(CacheTest, DeadServerCostsLittle) {
  // Nothing listens there: each call fails fast (connection refused), and
  // keeps failing quietly.
  const uint16_t port = testutil::FreeLoopbackPort();
  auto c = OpenCache("127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE((*c)->enabled());
  const auto start = Clock::now();
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE((*c)->Get("k"));
    EXPECT_FALSE((*c)->Set("k", "v", 10s));
  }
  // Generous bound (a loaded machine), far below 40 default 4 s timeouts.
  EXPECT_LT(Clock::now() - start, 20s);
}

TEST(CacheTest, RealMemcached) {
  testutil::MemcachedProcess server;
  ASSERT_TRUE(server.ok());
  auto opened = OpenCache(server.address());
  ASSERT_TRUE(opened.has_value()) << opened.error();
  Cache& c = **opened;
  EXPECT_FALSE(c.Get("services"));
  EXPECT_TRUE(c.Set("services", std::string("a\0b\n", 4), 60s));
  EXPECT_EQ(c.Get("services"), std::string("a\0b\n", 4));
  EXPECT_TRUE(c.Delete("services"));
  EXPECT_FALSE(c.Get("services"));
  EXPECT_TRUE(c.Delete("never-set"));

  // Keys live under the salvus: namespace: a plain client sees them there.
  ASSERT_TRUE(c.Set("status:7", "x", 60s));
  memcached_st* raw = memcached_create(nullptr);
  memcached_server_add(raw, "127.0.0.1", server.port());
  size_t len = 0;
  uint32_t flags = 0;
  memcached_return_t rc;
  char* v = memcached_get(raw, "salvus:status:7", 15, &len, &flags, &rc);
  ASSERT_NE(v, nullptr) << memcached_strerror(raw, rc);
  EXPECT_EQ(std::string(v, len), "x");
  free(v);
  memcached_free(raw);

  // It dies: misses, not errors; nothing hangs.
  server.Kill();
  EXPECT_FALSE(c.Get("status:7"));
  EXPECT_FALSE(c.Set("k", "v", 10s));
  EXPECT_FALSE(c.Get("k"));
}

TEST(CacheTest, RecoversWhenMemcachedComesBack) {
  testutil::MemcachedProcess first;
  ASSERT_TRUE(first.ok());
  auto opened = OpenCache(first.address(), MemcachedOptions{.retry_after = 1s});
  ASSERT_TRUE(opened.has_value());
  Cache& c = **opened;
  ASSERT_TRUE(c.Set("k", "v", 60s));
  // Restart on the same port (a new, empty memcached).
  const uint16_t port = first.port();
  first.Kill();
  EXPECT_FALSE(c.Get("k"));
  std::vector<std::string> args = {
      "/usr/bin/memcached", "-l", "127.0.0.1", "-p", std::to_string(port), "-U", "0", "-m", "16"};
  if (geteuid() == 0) args.insert(args.end(), {"-u", "nobody"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[0], argv.data());
    _exit(127);
  }
  bool stored = false;
  const auto deadline = Clock::now() + 30s;
  while (!stored && Clock::now() < deadline) {
    stored = c.Set("k2", "v2", 60s);
    if (!stored) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(stored);
  EXPECT_EQ(c.Get("k2"), "v2");
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace salvus::registry
