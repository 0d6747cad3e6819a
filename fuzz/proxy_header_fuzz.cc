// Fuzz target: the PROXY protocol header (hub/proxy_protocol), v1 and v2,
// as a --proxy-from peer's first bytes.
//
// Checks: a header is never longer than the input nor than
// kMaxProxyHeader; an input still incomplete at kMaxProxyHeader bytes
// cannot be; the header alone parses the same, and one byte short of it is
// incomplete (so ReadProxyHeader, taking what is incomplete, never takes a
// byte past the header); a refusal says why; a header looks like one.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "hub/proxy_protocol.h"

using salvus::hub::kMaxProxyHeader;
using salvus::hub::ParseProxyHeader;
using State = salvus::hub::ProxyParse::State;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  const auto p = ParseProxyHeader(in);
  switch (p.state) {
    case State::kInvalid:
      FUZZ_CHECK(!p.error.empty());
      FUZZ_CHECK(size > 0);
      break;
    case State::kIncomplete:
      FUZZ_CHECK(size < kMaxProxyHeader);
      FUZZ_CHECK(!p.source);
      break;
    case State::kDone: {
      FUZZ_CHECK(p.size > 0 && p.size <= size && p.size <= kMaxProxyHeader);
      FUZZ_CHECK(salvus::hub::LooksLikeProxyHeader(
          {reinterpret_cast<const char*>(data), p.size < 16 ? p.size : size_t{16}}));
      const auto alone = ParseProxyHeader(in.first(p.size));
      FUZZ_CHECK(alone.state == State::kDone && alone.size == p.size && alone.source == p.source);
      FUZZ_CHECK(ParseProxyHeader(in.first(p.size - 1)).state == State::kIncomplete);
      break;
    }
  }
  // A prefix of an incomplete input is incomplete too.
  if (p.state == State::kIncomplete && size > 0) {
    FUZZ_CHECK(ParseProxyHeader(in.first(size / 2)).state == State::kIncomplete);
  }
  return 0;
}
