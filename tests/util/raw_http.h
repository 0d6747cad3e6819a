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

// A blocking TCP connection from `local` (a loopback address: 127.0.0.N
// stands for client N) to 127.0.0.1:`port`; reads time out after 10 s.
// -1 when it fails.
int ConnectFrom(const char* local, uint16_t port);

// Sends `request` on `fd`; the answer's head (up to the blank line), or all
// of it until the server closes when `whole`.
std::string Exchange(int fd, const std::string& request, bool whole = false);

// An answer's first line, without its CRLF.
std::string StatusLine(const std::string& answer);

// A GET of `target` with Connection: close.
std::string GetRequest(const std::string& target, const std::string& host = "127.0.0.1");

// A WebSocket upgrade of /ws, with an Origin header unless `origin` is "".
std::string UpgradeRequest(const std::string& host = "127.0.0.1", const std::string& origin = "");

// A WebSocket from `local` that holds a connection (-1 when refused).
int HoldWebSocket(const char* local, uint16_t port, const std::string& host = "127.0.0.1");

// `bytes` from `local`, as they are: the whole answer ("" when the server
// closed without one; "(no connection)" when none could be made).
std::string SendFrom(const char* local, uint16_t port, const std::string& bytes);

}  // namespace salvus::testutil
