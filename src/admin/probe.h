// Health probes admin runs from this machine's namespace (netns hosts are
// reached through the bridge): blocking, each bounded by a timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace salvus::admin {

// Connects to host:port, sends `send` (if any) and returns what comes back
// (at most `max` bytes, until the peer closes or the timeout); nullopt-like
// "" with *connected false when no connection could be made.
std::string Exchange(const std::string& host, uint16_t port, const std::string& send,
                     bool* connected, std::chrono::milliseconds timeout = std::chrono::seconds(2),
                     size_t max = 4096);

bool TcpOpen(const std::string& host, uint16_t port);
// GET `path` (after `prefix`, e.g. a PROXY header) answered 200.
bool HttpOk(const std::string& host, uint16_t port, const std::string& path,
            const std::string& prefix = "");

// Sends one command to a unix socket (haproxy's stats socket) and returns
// its answer; "" when it cannot connect.
std::string UnixCommand(const std::string& path, const std::string& command,
                        std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace salvus::admin
