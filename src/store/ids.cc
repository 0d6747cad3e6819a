#include "store/ids.h"

#include <openssl/evp.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>

#include "core/hex.h"

namespace salvus::store::internal {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr size_t kIdLength = 10;

void FillRandom(unsigned char* p, size_t n) {
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
}

}  // namespace

std::string NewPermalinkId() {
  std::string id;
  unsigned char buf[32];
  while (id.size() < kIdLength) {
    FillRandom(buf, sizeof buf);
    for (unsigned char b : buf) {
      // 248 = 4 * 62: rejecting larger bytes keeps every character equally likely.
      if (b < 248 && id.size() < kIdLength) id += kBase62[b % 62];
    }
  }
  return id;
}

std::string PermalinkContentHash(std::string_view code, std::string_view language,
                                 std::string_view interact_state) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (std::string_view part : {code, language, interact_state}) {
    const std::string len = std::to_string(part.size()) + ":";
    EVP_DigestUpdate(ctx, len.data(), len.size());
    EVP_DigestUpdate(ctx, part.data(), part.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, md, &n);
  EVP_MD_CTX_free(ctx);
  return core::HexEncode(md, n);
}

}  // namespace salvus::store::internal
