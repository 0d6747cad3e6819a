// Test helper: a loopback port nothing listens on right now.
#pragma once

#include <cstdint>

namespace salvus::testutil {

// Binds a socket to 127.0.0.1:0, reads its port and closes it: connecting
// there is refused until someone listens. 0 if no port could be had.
uint16_t FreeLoopbackPort();

}  // namespace salvus::testutil
