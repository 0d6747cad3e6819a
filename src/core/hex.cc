#include "core/hex.h"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace salvus::core {

std::string HexEncode(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  return HexEncode(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::string RandomHex(size_t n) {
  std::vector<unsigned char> b(n);
  if (n > 0 && RAND_bytes(b.data(), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return HexEncode(b.data(), n);
}

}  // namespace salvus::core
