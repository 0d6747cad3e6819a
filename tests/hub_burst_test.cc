// A classroom at once, end to end: `salvus up` with its defaults (real hub,
// real compute server, real Sage, --max-sessions 32, --pool 2); 20 browsers
// start a session at the same moment and keep it, run `2+2`, then 30 do.
// Every start succeeds (a lost wake-up in the pool once left some waiting
// for the 60 s start timeout).
#include <gtest/gtest.h>

#include <barrier>
#include <string>
#include <thread>
#include <vector>

#include "client/hub_client.h"
#include "util/up_process.h"

namespace salvus {
namespace {

using testutil::UpProcess;

struct Browser {
  std::unique_ptr<client::HubClient> client;
  std::string session;
  std::string error;  // "" when the session started and 2+2 gave 4
};

// `n` browsers connect, then start at once and run 2+2, keeping their sessions.
std::vector<Browser> Burst(const UpProcess& up, int n) {
  std::vector<Browser> browsers(n);
  for (auto& b : browsers) b.client = testutil::ConnectTo(up);
  std::barrier go(n);
  std::vector<std::thread> threads;
  for (auto& b : browsers) {
    threads.emplace_back([&b, &go] {
      go.arrive_and_wait();
      if (!b.client) {
        b.error = "could not connect";
        return;
      }
      auto s = b.client->StartSession();
      if (!s) {
        b.error = "start: " + s.error();
        return;
      }
      b.session = *s;
      auto r = b.client->Execute(*s, "2+2");
      if (!r) {
        b.error = "2+2: " + r.error();
      } else if (r->out != "4\n") {
        b.error = "2+2 printed '" + r->out + "' (" + r->err + ")";
      }
    });
  }
  for (auto& t : threads) t.join();
  return browsers;
}

// Ends each session and waits for the hub's answer, then disconnects.
void EndAll(std::vector<Browser>& browsers) {
  for (auto& b : browsers) {
    if (!b.client || b.session.empty()) continue;
    const uint64_t id = b.client->Terminate(b.session);
    for (;;) {  // its ack (or error)
      auto m = b.client->Receive();
      if (!m || (m->id() == id && (m->has_ack() || m->has_error()))) break;
    }
    b.client->Close();
  }
}

TEST(HubBurst, TwentyThenThirtyStartsAtOnceAllStartAndRun) {
  UpProcess up;  // --pool 2: most starts of a burst wait for a fork
  ASSERT_TRUE(up.ok()) << up.log();
  for (int n : {20, 30}) {
    std::vector<Browser> browsers = Burst(up, n);
    int ok = 0;
    for (const auto& b : browsers) {
      EXPECT_EQ(b.error, "") << "in a burst of " << n;
      ok += b.error.empty();
    }
    EXPECT_EQ(ok, n) << up.log();
    EndAll(browsers);
  }
  EXPECT_EQ(up.Stop(), "");
}

}  // namespace
}  // namespace salvus
