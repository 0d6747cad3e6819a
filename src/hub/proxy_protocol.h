// The PROXY protocol (haproxy's doc/proxy-protocol.txt), versions 1 (a
// text line) and 2 (binary): a proxy in front of the hub (haproxy with
// send-proxy-v2) opens each connection with a header naming the client it
// carries, so that the hub counts and logs the client, not the proxy.
//
// Only connections from --proxy-from addresses are read this way
// (proxy_accept.h); from anyone else a header is hostile and is refused.
//
// Pure; the bytes are the peer's and are checked against every bound.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace salvus::hub {

// The longest header read. A version 1 line is at most 107 bytes; a
// version 2 header is 16 bytes and up to 65535 more of addresses and TLVs,
// of which haproxy sends 36 (IPv6) plus the TLVs it is asked for: a longer
// one is refused rather than read.
inline constexpr size_t kMaxProxyHeader = 16 + 1024;
inline constexpr size_t kMaxProxyV1Line = 107;

struct ProxyParse {
  enum class State {
    kIncomplete,  // a valid header so far; every byte given belongs to it
    kDone,        // a whole header, of `size` bytes (what follows is not its)
    kInvalid,     // not a header, or a malformed or oversized one (`error`)
  };
  State state = State::kIncomplete;
  size_t size = 0;
  // The client the proxy carries; nullopt when the header names none (v2
  // LOCAL, as a proxy's health check sends; v2 UNSPEC or UNIX; v1
  // UNKNOWN): the connection is the proxy's own.
  std::optional<boost::asio::ip::address> source;
  std::string error;
};

// Parses the start of a connection's bytes as a PROXY header.
ProxyParse ParseProxyHeader(std::span<const uint8_t> data);

// Whether `data` (a connection's first bytes) starts like a PROXY header,
// of either version: a peer that may not send one did.
bool LooksLikeProxyHeader(std::string_view data);

}  // namespace salvus::hub
