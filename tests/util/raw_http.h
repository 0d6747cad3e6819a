// Test helper: one HTTP request written by hand on a fresh loopback TCP
// connection (to send what no client library would: forged headers,
// upgrades without a WebSocket client).
#pragma once

#include <cstdint>
#include <string>

namespace salvus::testutil {

// Sends `request` (the whole of it, CRLFs included) to 127.0.0.1:`port`;
// the answer, read until the server closes (or for 10 s), or only its first
// line (without CRLF) when `status_line_only`. "" when nothing connects.
std::string RawHttp(uint16_t port, const std::string& request, bool status_line_only = false);

// A GET of `target` with Connection: close; the whole answer.
std::string HttpGet(uint16_t port, const std::string& target);

}  // namespace salvus::testutil
