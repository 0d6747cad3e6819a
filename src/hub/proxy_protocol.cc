#include "hub/proxy_protocol.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace salvus::hub {

namespace ip = boost::asio::ip;

namespace {

constexpr std::array<uint8_t, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view kV1Prefix = "PROXY ";
constexpr size_t kV2Fixed = 16;

ProxyParse Invalid(std::string why) {
  ProxyParse p;
  p.state = ProxyParse::State::kInvalid;
  p.error = std::move(why);
  return p;
}

ProxyParse Done(size_t size, std::optional<ip::address> source) {
  ProxyParse p;
  p.state = ProxyParse::State::kDone;
  p.size = size;
  p.source = source;
  return p;
}

// Version 2: the signature, version and command, family and transport, a
// big-endian length, then the addresses (and TLVs, skipped).
ProxyParse ParseV2(std::span<const uint8_t> d) {
  const size_t sig = std::min(d.size(), kV2Signature.size());
  if (!std::equal(d.begin(), d.begin() + sig, kV2Signature.begin())) {
    return Invalid("not a PROXY header");
  }
  if (d.size() > 12 && (d[12] >> 4) != 2) return Invalid("PROXY v2: version is not 2");
  if (d.size() > 12 && (d[12] & 0x0F) > 1) return Invalid("PROXY v2: unknown command");
  if (d.size() < kV2Fixed) return {};
  const size_t size = kV2Fixed + (size_t{d[14]} << 8 | d[15]);
  if (size > kMaxProxyHeader) {
    return Invalid("PROXY v2: header of " + std::to_string(size) + " bytes (at most " +
                   std::to_string(kMaxProxyHeader) + ")");
  }
  if (d.size() < size) return {};
  const bool local = (d[12] & 0x0F) == 0;
  const int family = d[13] >> 4;
  const int transport = d[13] & 0x0F;
  if (family > 3 || transport > 2) return Invalid("PROXY v2: unknown address family");
  if (local || family == 0 || family == 3) return Done(size, std::nullopt);
  if (transport != 1) return Invalid("PROXY v2: not a stream (TCP) connection");
  const uint8_t* a = d.data() + kV2Fixed;
  if (family == 1) {
    if (size < kV2Fixed + 12) return Invalid("PROXY v2: IPv4 addresses cut short");
    ip::address_v4::bytes_type b;
    std::memcpy(b.data(), a, b.size());
    return Done(size, ip::address_v4(b));
  }
  if (size < kV2Fixed + 36) return Invalid("PROXY v2: IPv6 addresses cut short");
  ip::address_v6::bytes_type b;
  std::memcpy(b.data(), a, b.size());
  return Done(size, ip::address_v6(b));
}

bool ParsePort(std::string_view s) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return ec == std::errc() && end == s.data() + s.size() && port <= 65535;
}

// "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n", or "PROXY UNKNOWN...\r\n".
ProxyParse ParseV1(std::string_view d) {
  const size_t pre = std::min(d.size(), kV1Prefix.size());
  if (d.substr(0, pre) != kV1Prefix.substr(0, pre)) return Invalid("not a PROXY header");
  const size_t lf = d.substr(0, kMaxProxyV1Line).find('\n');
  // Printable ASCII up to the CR that ends the line (and so in every
  // prefix of it: what is refused whole is refused from its first bad byte).
  const std::string_view text =
      d.substr(0, lf == std::string_view::npos ? std::min(d.size(), kMaxProxyV1Line) : lf);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool end = c == '\r' && i + 1 == text.size();
    if (!end && (c < 0x20 || c > 0x7E)) return Invalid("PROXY v1: not printable");
  }
  if (lf == std::string_view::npos) {
    if (d.size() >= kMaxProxyV1Line) return Invalid("PROXY v1: line longer than 107 bytes");
    return {};
  }
  if (lf == 0 || d[lf - 1] != '\r') return Invalid("PROXY v1: line not ended by CRLF");
  const std::string_view line = d.substr(kV1Prefix.size(), lf - 1 - kV1Prefix.size());
  if (line.starts_with("UNKNOWN")) return Done(lf + 1, std::nullopt);
  std::array<std::string_view, 5> f;
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] != ' ') continue;
    if (n == f.size()) return Invalid("PROXY v1: too many fields");
    f[n++] = line.substr(start, i - start);
    start = i + 1;
  }
  if (n != f.size()) return Invalid("PROXY v1: too few fields");
  if (f[0] != "TCP4" && f[0] != "TCP6") return Invalid("PROXY v1: unknown protocol");
  boost::system::error_code ec;
  const ip::address src = ip::make_address(std::string(f[1]), ec);
  if (ec) return Invalid("PROXY v1: bad source address");
  const ip::address dst = ip::make_address(std::string(f[2]), ec);
  if (ec) return Invalid("PROXY v1: bad destination address");
  const bool v4 = f[0] == "TCP4";
  if (src.is_v4() != v4 || dst.is_v4() != v4) return Invalid("PROXY v1: address of another family");
  if (!ParsePort(f[3]) || !ParsePort(f[4])) return Invalid("PROXY v1: bad port");
  return Done(lf + 1, src);
}

}  // namespace

ProxyParse ParseProxyHeader(std::span<const uint8_t> data) {
  if (data.empty()) return {};
  if (data[0] == kV2Signature[0]) return ParseV2(data);
  return ParseV1(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

bool LooksLikeProxyHeader(std::string_view data) {
  if (data.starts_with(kV1Prefix)) return true;
  return data.size() >= kV2Signature.size() &&
         std::memcmp(data.data(), kV2Signature.data(), kV2Signature.size()) == 0;
}

}  // namespace salvus::hub
