#include "hub/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace salvus::hub {
namespace {

using State = ProxyParse::State;
using Bytes = std::vector<uint8_t>;

const Bytes kSig = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// A v2 header: version/command byte, family/transport byte, then `body`
// (addresses, TLVs) with its length.
Bytes V2(uint8_t ver_cmd, uint8_t fam, const Bytes& body) {
  Bytes b = kSig;
  b.push_back(ver_cmd);
  b.push_back(fam);
  b.push_back(static_cast<uint8_t>(body.size() >> 8));
  b.push_back(static_cast<uint8_t>(body.size() & 0xFF));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

// 10.1.2.3:5000 -> 127.0.0.1:8080, TCP over IPv4.
Bytes V2Ipv4() { return V2(0x21, 0x11, {10, 1, 2, 3, 127, 0, 0, 1, 0x13, 0x88, 0x1F, 0x90}); }

ProxyParse Parse(const Bytes& b) { return ParseProxyHeader(b); }
ProxyParse Parse(const std::string& s) {
  return ParseProxyHeader({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

TEST(ProxyProtocol, V2Ipv4NamesTheClientAndLeavesWhatFollows) {
  Bytes b = V2Ipv4();
  const size_t header = b.size();
  for (char c : std::string("GET / HTTP/1.1\r\n")) b.push_back(static_cast<uint8_t>(c));
  const ProxyParse p = Parse(b);
  ASSERT_EQ(p.state, State::kDone) << p.error;
  EXPECT_EQ(p.size, header);
  EXPECT_EQ(header, 28u);
  ASSERT_TRUE(p.source);
  EXPECT_EQ(p.source->to_string(), "10.1.2.3");
}

TEST(ProxyProtocol, V2Ipv6WithTlvs) {
  Bytes body(36, 0);
  body[0] = 0x20;
  body[1] = 0x01;
  body[2] = 0x0d;
  body[3] = 0xb8;
  body[15] = 0x07;  // 2001:db8::7
  body[31] = 1;     // ::1
  // A TLV (type 0x04, NOOP) of 5 bytes: skipped.
  for (uint8_t c : Bytes{0x04, 0x00, 0x05, 1, 2, 3, 4, 5}) body.push_back(c);
  const Bytes b = V2(0x21, 0x21, body);
  const ProxyParse p = Parse(b);
  ASSERT_EQ(p.state, State::kDone) << p.error;
  EXPECT_EQ(p.size, b.size());
  ASSERT_TRUE(p.source);
  EXPECT_EQ(p.source->to_string(), "2001:db8::7");
}

// A proxy's health check: LOCAL, with or without addresses; and an
// unspecified or UNIX family: no client is named.
TEST(ProxyProtocol, V2LocalAndUnspecifiedNameNoClient) {
  for (const Bytes& b : {V2(0x20, 0x00, {}), V2(0x20, 0x11, {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2}),
                         V2(0x21, 0x00, {}), V2(0x21, 0x31, Bytes(216, 0))}) {
    const ProxyParse p = Parse(b);
    ASSERT_EQ(p.state, State::kDone) << p.error;
    EXPECT_EQ(p.size, b.size());
    EXPECT_FALSE(p.source);
  }
}

// Every prefix of a header is incomplete (all of it the header's); the
// whole is done.
TEST(ProxyProtocol, TruncatedHeadersAreIncomplete) {
  for (const Bytes& whole : {V2Ipv4(), V2(0x21, 0x21, Bytes(36, 1)), V2(0x20, 0x00, {})}) {
    for (size_t n = 0; n < whole.size(); ++n) {
      const Bytes part(whole.begin(), whole.begin() + n);
      EXPECT_EQ(Parse(part).state, State::kIncomplete) << n;
    }
    EXPECT_EQ(Parse(whole).state, State::kDone);
  }
  const std::string line = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
  for (size_t n = 0; n < line.size(); ++n) {
    EXPECT_EQ(Parse(line.substr(0, n)).state, State::kIncomplete) << n;
  }
}

TEST(ProxyProtocol, V2AddressesShorterThanTheirFamilyAreRefused) {
  EXPECT_EQ(Parse(V2(0x21, 0x11, Bytes(11, 0))).state, State::kInvalid);
  EXPECT_EQ(Parse(V2(0x21, 0x21, Bytes(35, 0))).state, State::kInvalid);
  EXPECT_EQ(Parse(V2(0x21, 0x21, Bytes(12, 0))).state, State::kInvalid);
}

// A length past kMaxProxyHeader is refused from its 16 bytes, before any
// of the rest is read.
TEST(ProxyProtocol, AnOversizedHeaderIsRefusedFromItsLength) {
  Bytes b = kSig;
  for (uint8_t c : Bytes{0x21, 0x11, 0xFF, 0xFF}) b.push_back(c);
  ProxyParse p = Parse(b);
  EXPECT_EQ(p.state, State::kInvalid);
  EXPECT_NE(p.error.find("65551 bytes"), std::string::npos) << p.error;
  // The largest accepted, and one byte more.
  Bytes body(kMaxProxyHeader - 16, 0);
  EXPECT_EQ(Parse(V2(0x21, 0x11, body)).state, State::kDone);
  body.push_back(0);
  EXPECT_EQ(Parse(V2(0x21, 0x11, body)).state, State::kInvalid);
  // A v1 line with no end within 107 bytes.
  const std::string v1 = "PROXY UNKNOWN " + std::string(200, 'x');
  for (size_t n : {size_t{106}, size_t{107}, size_t{200}}) {
    EXPECT_EQ(Parse(v1.substr(0, n)).state, n < 107 ? State::kIncomplete : State::kInvalid) << n;
  }
}

TEST(ProxyProtocol, V2GarbageIsRefused) {
  Bytes wrong_sig = V2Ipv4();
  wrong_sig[7] = 'X';
  EXPECT_EQ(Parse(wrong_sig).state, State::kInvalid);
  EXPECT_EQ(Parse(Bytes(wrong_sig.begin(), wrong_sig.begin() + 8)).state, State::kInvalid);
  EXPECT_EQ(Parse(V2(0x11, 0x11, Bytes(12, 0))).state, State::kInvalid);  // version 1
  EXPECT_EQ(Parse(V2(0x22, 0x11, Bytes(12, 0))).state, State::kInvalid);  // command 2
  EXPECT_EQ(Parse(V2(0x21, 0x41, Bytes(12, 0))).state, State::kInvalid);  // family 4
  EXPECT_EQ(Parse(V2(0x21, 0x12, Bytes(12, 0))).state, State::kInvalid);  // UDP
  EXPECT_EQ(Parse(V2(0x21, 0x13, Bytes(12, 0))).state, State::kInvalid);  // transport 3
  // Known bad bytes are refused as soon as they arrive.
  Bytes early = kSig;
  early.push_back(0x31);
  EXPECT_EQ(Parse(early).state, State::kInvalid);
  EXPECT_EQ(Parse(std::string("GET / HTTP/1.1\r\n\r\n")).state, State::kInvalid);
  EXPECT_EQ(Parse(std::string("\x16\x03\x01")).state, State::kInvalid);  // TLS
}

TEST(ProxyProtocol, V1Lines) {
  ProxyParse p = Parse(std::string("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /"));
  ASSERT_EQ(p.state, State::kDone) << p.error;
  EXPECT_EQ(p.size, 45u);
  ASSERT_TRUE(p.source);
  EXPECT_EQ(p.source->to_string(), "192.0.2.1");
  p = Parse(std::string("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n"));
  ASSERT_EQ(p.state, State::kDone) << p.error;
  EXPECT_EQ(p.source->to_string(), "2001:db8::1");
  p = Parse(std::string("PROXY UNKNOWN\r\n"));
  ASSERT_EQ(p.state, State::kDone) << p.error;
  EXPECT_EQ(p.size, 15u);
  EXPECT_FALSE(p.source);
  for (const char* bad : {
           "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n",    // no CR
           "PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",      // too few
           "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n",      // too many
           "PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n",       // two spaces
           "PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",  // port
           "PROXY TCP4 192.0.2.1 198.51.100.2 -1 443\r\n",     // port
           "PROXY TCP4 192.0.2.1 198.51.100.2 080 443\r\n",    // port
           "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",      // family
           "PROXY TCP6 192.0.2.1 ::1 1 2\r\n",                 // family
           "PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n",      // address
           "PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",        // protocol
           "PROXY TCP4 192.0.2.1\x01 198.51.100.2 1 2\r\n",    // control
           "proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n",        // case
           "PROXY \x01",                                       // control, early
           "PROXY UNKNOWN \xC3\x9B\r\n",                       // not ASCII
           "PROXY UNKNOWN \r\r\n",                             // a CR inside
       }) {
    EXPECT_EQ(Parse(std::string(bad)).state, State::kInvalid) << bad;
  }
}

TEST(ProxyProtocol, LooksLikeAHeader) {
  const Bytes v2 = V2Ipv4();
  EXPECT_TRUE(LooksLikeProxyHeader({reinterpret_cast<const char*>(v2.data()), v2.size()}));
  EXPECT_TRUE(LooksLikeProxyHeader("PROXY TCP4 1.2.3.4"));
  EXPECT_FALSE(LooksLikeProxyHeader("GET / HTTP/1.1"));
  EXPECT_FALSE(LooksLikeProxyHeader("\r\n\r\n"));
  EXPECT_FALSE(LooksLikeProxyHeader(""));
}

}  // namespace
}  // namespace salvus::hub
