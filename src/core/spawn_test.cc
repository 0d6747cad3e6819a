#include "core/spawn.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <stdexcept>

namespace salvus::core {
namespace {

struct Flag {
  bool* set;
  ~Flag() { *set = true; }
};

boost::asio::awaitable<void> Throws(bool* cleaned) {
  Flag f{cleaned};
  throw std::runtime_error("injected");
  co_return;
}

boost::asio::awaitable<void> Returns() { co_return; }

TEST(Spawn, AnEscapedExceptionIsLoggedAndCleanupRuns) {
  boost::asio::io_context io;
  bool cleaned = false;
  const uint64_t before = EscapedExceptions();
  Spawn(io, Throws(&cleaned), "test coroutine");
  Spawn(io, Returns(), "quiet coroutine");
  io.run();
  EXPECT_TRUE(cleaned);
  EXPECT_EQ(EscapedExceptions(), before + 1);
}

}  // namespace
}  // namespace salvus::core
