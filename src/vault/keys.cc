#include "vault/keys.h"

#include <sodium.h>

namespace salvus::vault {

bool InitSodium() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

VaultKeys::~VaultKeys() {
  sodium_memzero(index_key.data(), index_key.size());
  sodium_memzero(secret_key.data(), secret_key.size());
}

VaultKeys VaultKeys::Generate() {
  static_assert(crypto_box_PUBLICKEYBYTES == kKeySize && crypto_box_SECRETKEYBYTES == kKeySize);
  static_assert(crypto_auth_hmacsha256_KEYBYTES == kKeySize);
  VaultKeys k;
  crypto_auth_hmacsha256_keygen(k.index_key.data());
  crypto_box_keypair(k.public_key.data(), k.secret_key.data());
  return k;
}

std::string VaultKeys::Serialize() const {
  std::string out;
  out.reserve(3 * kKeySize);
  for (const auto* a : {&index_key, &public_key, &secret_key}) {
    out.append(reinterpret_cast<const char*>(a->data()), a->size());
  }
  return out;
}

std::expected<VaultKeys, std::string> VaultKeys::Parse(std::string_view bytes) {
  if (bytes.size() != 3 * kKeySize) {
    return std::unexpected("the keys are " + std::to_string(bytes.size()) + " bytes, not " +
                           std::to_string(3 * kKeySize));
  }
  VaultKeys k;
  size_t at = 0;
  for (auto* a : {&k.index_key, &k.public_key, &k.secret_key}) {
    bytes.copy(reinterpret_cast<char*>(a->data()), a->size(), at);
    at += a->size();
  }
  // The public key must belong to the secret key (a damaged file otherwise
  // seals rows that nothing opens).
  std::array<unsigned char, kKeySize> derived{};
  crypto_scalarmult_base(derived.data(), k.secret_key.data());
  if (sodium_memcmp(derived.data(), k.public_key.data(), kKeySize) != 0) {
    return std::unexpected("the public key does not belong to the secret key");
  }
  return k;
}

std::string VaultKeys::IndexOf(std::string_view normalized_email) const {
  std::string mac(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, index_key.data(), index_key.size());
  crypto_auth_hmacsha256_update(&st,
                                reinterpret_cast<const unsigned char*>(normalized_email.data()),
                                normalized_email.size());
  crypto_auth_hmacsha256_final(&st, reinterpret_cast<unsigned char*>(mac.data()));
  sodium_memzero(&st, sizeof st);
  return mac;
}

std::string VaultKeys::SealToSelf(std::string_view plaintext) const {
  return SealTo(std::string_view(reinterpret_cast<const char*>(public_key.data()), kKeySize),
                plaintext);
}

std::expected<std::string, std::string> VaultKeys::OpenSealed(std::string_view sealed) const {
  if (sealed.size() < crypto_box_SEALBYTES) {
    return std::unexpected("shorter than a sealed box (" + std::to_string(crypto_box_SEALBYTES) +
                           " bytes of overhead)");
  }
  std::string plain(sealed.size() - crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal_open(reinterpret_cast<unsigned char*>(plain.data()),
                           reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                           public_key.data(), secret_key.data()) != 0) {
    return std::unexpected(
        "does not open with the vault's key (sealed to another key, or altered)");
  }
  return plain;
}

std::string SealTo(std::string_view public_key, std::string_view plaintext) {
  std::string out(plaintext.size() + crypto_box_SEALBYTES, '\0');
  if (public_key.size() != crypto_box_PUBLICKEYBYTES) return {};
  crypto_box_seal(reinterpret_cast<unsigned char*>(out.data()),
                  reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                  reinterpret_cast<const unsigned char*>(public_key.data()));
  return out;
}

}  // namespace salvus::vault
