#include "core/token.h"

#include <openssl/crypto.h>

#include <fstream>
#include <sstream>

namespace salvus::core {

std::expected<std::string, std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected("cannot read token file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  const char* ws = " \t\r\n";
  const size_t b = t.find_first_not_of(ws);
  if (b == std::string::npos) return std::unexpected("token file " + path + " is empty");
  t = t.substr(b, t.find_last_not_of(ws) - b + 1);
  if (t.size() < 16) return std::unexpected("token in " + path + " is shorter than 16 characters");
  return t;
}

bool TokensEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace salvus::core
