// The vault's secrets and what it does with them: the index key k_idx (an
// HMAC-SHA256 key that turns an e-mail address into its row's key) and a
// crypto_box key pair (browsers seal addresses to the public key; the vault
// opens them, and seals what it stores to itself).
//
// REQUIRES: sodium_init() was called (InitSodium) before any function here.
#pragma once

#include <array>
#include <expected>
#include <string>
#include <string_view>

namespace salvus::vault {

// Calls sodium_init() once; false if libsodium cannot start.
bool InitSodium();

// 96 bytes of secrets, zeroed when destroyed.
struct VaultKeys {
  static constexpr size_t kKeySize = 32;
  std::array<unsigned char, kKeySize> index_key{};   // k_idx
  std::array<unsigned char, kKeySize> public_key{};  // crypto_box
  std::array<unsigned char, kKeySize> secret_key{};  // crypto_box

  VaultKeys() = default;
  VaultKeys(const VaultKeys&) = default;
  VaultKeys& operator=(const VaultKeys&) = default;
  ~VaultKeys();

  // Fresh random keys.
  static VaultKeys Generate();
  // index_key || public_key || secret_key (the keys file's plaintext).
  std::string Serialize() const;
  static std::expected<VaultKeys, std::string> Parse(std::string_view bytes);

  // HMAC-SHA256(k_idx, normalized address): the row key, 32 bytes.
  std::string IndexOf(std::string_view normalized_email) const;
  // crypto_box_seal to our own public key (what a row stores).
  std::string SealToSelf(std::string_view plaintext) const;
  // Opens a crypto_box_seal made to our public key; an error if it was
  // sealed to another key, altered, or is not a sealed box at all.
  std::expected<std::string, std::string> OpenSealed(std::string_view sealed) const;
};

// crypto_box_seal(plaintext, public_key): what a browser does (tests).
std::string SealTo(std::string_view public_key, std::string_view plaintext);

}  // namespace salvus::vault
