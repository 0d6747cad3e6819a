// The vault's keys file: its three keys (VaultKeys), encrypted under a
// passphrase, or in clear for the embedded vault of `salvus up`.
//
//   salvus-vault-keys 1
//   kdf argon2id13 <opslimit> <memlimit>     (or: kdf none)
//   salt <hex>                               (crypto_pwhash salt, 16 bytes)
//   nonce <hex>                              (crypto_secretbox nonce, 24 bytes)
//   keys <hex>                               (secretbox of the 96 key bytes; in clear with kdf
//   none)
//
// The passphrase goes through Argon2id (crypto_pwhash) with the stored salt
// and limits into a secretbox key; a wrong passphrase fails the box's MAC.
// A keys file must be a regular file owned by the user reading it, with no
// access for group or others (0600): anything else is refused unread.
#pragma once

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "vault/keys.h"

namespace salvus::vault {

// Argon2id's cost: libsodium's named levels. `min` is for tests only.
struct KdfParams {
  unsigned long long opslimit = 0;
  size_t memlimit = 0;
};
// "min", "interactive", "moderate" (the default of `vault init`: about a
// second and 256 MiB), "sensitive".
std::expected<KdfParams, std::string> KdfParamsNamed(std::string_view name);

// Writes a new keys file at `path`, mode 0600; refuses to replace one that
// exists. No passphrase: the keys in clear (embedded mode).
std::expected<void, std::string> WriteKeysFile(const std::string& path, const VaultKeys& keys,
                                               const std::optional<std::string>& passphrase,
                                               KdfParams kdf);

// Asked for the passphrase only when the file is encrypted.
using PassphraseSource = std::function<std::expected<std::string, std::string>()>;

struct LoadedKeys {
  VaultKeys keys;
  bool encrypted = false;
};

// Reads and opens the keys file (ownership and mode checked first).
std::expected<LoadedKeys, std::string> ReadKeysFile(const std::string& path,
                                                    const PassphraseSource& passphrase);

// Refuses a file that is not ours alone: not a regular file, owned by
// another user, or readable or writable by group or others.
std::expected<void, std::string> CheckPrivateFile(int fd, const std::string& path);

}  // namespace salvus::vault
