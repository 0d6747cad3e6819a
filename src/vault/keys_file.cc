#include "vault/keys_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <vector>

#include "core/hex.h"

namespace salvus::vault {

namespace {

constexpr size_t kMaxFileSize = 4096;
constexpr std::string_view kMagic = "salvus-vault-keys 1";

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::expected<std::string, std::string> HexDecode(std::string_view hex, size_t want,
                                                  const char* field) {
  std::string out(want, '\0');
  size_t n = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), want, hex.data(), hex.size(),
                     nullptr, &n, nullptr) != 0 ||
      n != want) {
    return std::unexpected(std::string("its ") + field + " is not " + std::to_string(want) +
                           " bytes of hex");
  }
  return out;
}

// Argon2id(passphrase, salt) -> a secretbox key.
std::expected<std::string, std::string> DeriveKey(const std::string& passphrase,
                                                  std::string_view salt, KdfParams kdf) {
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  if (crypto_pwhash(reinterpret_cast<unsigned char*>(key.data()), key.size(), passphrase.data(),
                    passphrase.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                    kdf.opslimit, kdf.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return std::unexpected("Argon2id ran out of memory (it needs " +
                           std::to_string(kdf.memlimit >> 20) + " MiB)");
  }
  return key;
}

struct Fields {
  std::string kdf, salt, nonce, keys;
};

std::expected<Fields, std::string> ParseFields(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kMagic) {
    return std::unexpected("it does not start with '" + std::string(kMagic) + "'");
  }
  Fields f;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    const std::string name = line.substr(0, sp);
    const std::string value = sp == std::string::npos ? "" : line.substr(sp + 1);
    std::string* slot = name == "kdf"     ? &f.kdf
                        : name == "salt"  ? &f.salt
                        : name == "nonce" ? &f.nonce
                        : name == "keys"  ? &f.keys
                                          : nullptr;
    if (slot == nullptr) return std::unexpected("unknown line '" + name + "'");
    if (!slot->empty()) return std::unexpected("two '" + name + "' lines");
    *slot = value;
  }
  if (f.kdf.empty() || f.keys.empty()) return std::unexpected("a 'kdf' or 'keys' line is missing");
  return f;
}

std::expected<KdfParams, std::string> ParseKdf(std::string_view v) {
  std::istringstream in{std::string(v)};
  std::string alg;
  KdfParams p;
  if (!(in >> alg >> p.opslimit >> p.memlimit) || alg != "argon2id13") {
    return std::unexpected("its kdf line is not 'argon2id13 OPSLIMIT MEMLIMIT'");
  }
  // A file could otherwise ask for any amount of memory or time.
  if (p.opslimit < crypto_pwhash_OPSLIMIT_MIN || p.opslimit > crypto_pwhash_OPSLIMIT_SENSITIVE ||
      p.memlimit < crypto_pwhash_MEMLIMIT_MIN || p.memlimit > crypto_pwhash_MEMLIMIT_SENSITIVE) {
    return std::unexpected("its Argon2id limits are outside libsodium's MIN..SENSITIVE");
  }
  return p;
}

}  // namespace

std::expected<KdfParams, std::string> KdfParamsNamed(std::string_view name) {
  if (name == "min") return KdfParams{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
  if (name == "interactive") {
    return KdfParams{crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
  }
  if (name == "moderate") {
    return KdfParams{crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
  }
  if (name == "sensitive") {
    return KdfParams{crypto_pwhash_OPSLIMIT_SENSITIVE, crypto_pwhash_MEMLIMIT_SENSITIVE};
  }
  return std::unexpected("unknown Argon2id level '" + std::string(name) +
                         "' (min, interactive, moderate, sensitive)");
}

std::expected<void, std::string> CheckPrivateFile(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return std::unexpected(Errno("cannot stat " + path));
  if (!S_ISREG(st.st_mode)) return std::unexpected(path + " is not a regular file");
  if (st.st_uid != geteuid()) {
    return std::unexpected(path + " is owned by uid " + std::to_string(st.st_uid) +
                           ", not by this user (" + std::to_string(geteuid()) + ")");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return std::unexpected(path + " has mode " + mode +
                           ": group or others may reach it; make it 0600 (chmod 600)");
  }
  return {};
}

std::expected<void, std::string> WriteKeysFile(const std::string& path, const VaultKeys& keys,
                                               const std::optional<std::string>& passphrase,
                                               KdfParams kdf) {
  std::string text = std::string(kMagic) + "\n";
  std::string plain = keys.Serialize();
  if (passphrase) {
    if (passphrase->empty()) return std::unexpected("the passphrase is empty");
    std::string salt(crypto_pwhash_SALTBYTES, '\0'), nonce(crypto_secretbox_NONCEBYTES, '\0');
    randombytes_buf(salt.data(), salt.size());
    randombytes_buf(nonce.data(), nonce.size());
    auto key = DeriveKey(*passphrase, salt, kdf);
    if (!key) return std::unexpected(key.error());
    std::string box(plain.size() + crypto_secretbox_MACBYTES, '\0');
    crypto_secretbox_easy(reinterpret_cast<unsigned char*>(box.data()),
                          reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                          reinterpret_cast<const unsigned char*>(nonce.data()),
                          reinterpret_cast<const unsigned char*>(key->data()));
    sodium_memzero(key->data(), key->size());
    text += "kdf argon2id13 " + std::to_string(kdf.opslimit) + " " + std::to_string(kdf.memlimit) +
            "\nsalt " + core::HexEncode(salt) + "\nnonce " + core::HexEncode(nonce) + "\nkeys " +
            core::HexEncode(box) + "\n";
  } else {
    text += "kdf none\nkeys " + core::HexEncode(plain) + "\n";
  }
  sodium_memzero(plain.data(), plain.size());
  // Written beside, then linked into place: link() never replaces a file,
  // and no reader ever sees half a file.
  const std::string tmp = path + ".new-" + std::to_string(getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return std::unexpected(Errno("cannot create " + tmp));
  const bool ok = fchmod(fd, 0600) == 0 &&
                  write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  fsync(fd) == 0;
  const int saved = errno;
  close(fd);
  sodium_memzero(text.data(), text.size());
  if (!ok) {
    unlink(tmp.c_str());
    errno = saved;
    return std::unexpected(Errno("cannot write " + tmp));
  }
  if (link(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno == EEXIST ? path + " exists already (it is never replaced)"
                                            : Errno("cannot create " + path);
    unlink(tmp.c_str());
    return std::unexpected(why);
  }
  unlink(tmp.c_str());
  return {};
}

std::expected<LoadedKeys, std::string> ReadKeysFile(const std::string& path,
                                                    const PassphraseSource& passphrase) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::unexpected(Errno("cannot open the keys file " + path));
  if (auto ok = CheckPrivateFile(fd, path); !ok) {
    close(fd);
    return std::unexpected("refusing the keys file: " + ok.error());
  }
  std::string text(kMaxFileSize + 1, '\0');
  size_t n = 0;
  for (;;) {
    const ssize_t r = read(fd, text.data() + n, text.size() - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      close(fd);
      return std::unexpected(Errno("cannot read " + path));
    }
    if (r == 0 || (n += r) == text.size()) break;
  }
  close(fd);
  if (n > kMaxFileSize) return std::unexpected(path + " is too big for a keys file");
  text.resize(n);
  const std::string bad = "the keys file " + path + " is damaged: ";
  auto f = ParseFields(text);
  sodium_memzero(text.data(), text.size());
  if (!f) return std::unexpected(bad + f.error());
  LoadedKeys out;
  std::string plain;
  if (f->kdf == "none") {
    auto p = HexDecode(f->keys, 3 * VaultKeys::kKeySize, "keys");
    if (!p) return std::unexpected(bad + p.error());
    plain = std::move(*p);
  } else {
    auto kdf = ParseKdf(f->kdf);
    if (!kdf) return std::unexpected(bad + kdf.error());
    auto salt = HexDecode(f->salt, crypto_pwhash_SALTBYTES, "salt");
    auto nonce = HexDecode(f->nonce, crypto_secretbox_NONCEBYTES, "nonce");
    auto box = HexDecode(f->keys, 3 * VaultKeys::kKeySize + crypto_secretbox_MACBYTES, "keys");
    if (!salt || !nonce || !box) {
      return std::unexpected(bad + (!salt ? salt.error() : !nonce ? nonce.error() : box.error()));
    }
    auto pass = passphrase();
    if (!pass) return std::unexpected(pass.error());
    auto key = DeriveKey(*pass, *salt, *kdf);
    sodium_memzero(pass->data(), pass->size());
    if (!key) return std::unexpected(key.error());
    plain.assign(3 * VaultKeys::kKeySize, '\0');
    const int r =
        crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                   reinterpret_cast<const unsigned char*>(box->data()), box->size(),
                                   reinterpret_cast<const unsigned char*>(nonce->data()),
                                   reinterpret_cast<const unsigned char*>(key->data()));
    sodium_memzero(key->data(), key->size());
    if (r != 0) {
      return std::unexpected("wrong passphrase for " + path + " (or the file was altered)");
    }
    out.encrypted = true;
  }
  auto keys = VaultKeys::Parse(plain);
  sodium_memzero(plain.data(), plain.size());
  if (!keys) return std::unexpected(bad + keys.error());
  out.keys = *keys;
  return out;
}

}  // namespace salvus::vault
