// Test helper: one cell in a new session of a browser-protocol client,
// checked with gtest (tests only).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "client/hub_client.h"

namespace salvus::testutil {

// The output of `code` in a new session on `c`; "" with a test failure if
// it does not run or writes to stderr.
inline std::string RunCell(client::HubClient& c, const std::string& code) {
  auto s = c.StartSession();
  EXPECT_TRUE(s) << s.error();
  if (!s) return "";
  auto r = c.Execute(*s, code);
  EXPECT_TRUE(r) << r.error();
  if (!r) return "";
  EXPECT_EQ(r->err, "");
  return r->out;
}

}  // namespace salvus::testutil
