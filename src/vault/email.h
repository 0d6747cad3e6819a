// What the vault accepts as an e-mail address, and the one form it keys rows
// by. Normalization is deliberately small:
//   - surrounding whitespace (space, tab, CR, LF) is trimmed;
//   - ASCII letters are lowercased in the whole address, local part included
//     (RFC 5321 lets a server treat "Ann" and "ann" apart; no common provider
//     does, and two accounts differing only by case would only confuse);
//   - nothing else: no Unicode case folding or NFC (bytes >= 0x80 are kept as
//     given, so an internationalized address must be typed the same way each
//     time), no provider rules (Gmail's dots and "+tags" stay distinct
//     addresses: they are different addresses to a mail server).
// An address is valid UTF-8, at most 254 bytes, has no control character or
// space, and has exactly one '@' with a non-empty part either side and a
// domain that holds a '.' and neither starts nor ends with one. It is never
// put into a message or a log (errors say what is wrong, not what was sent).
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace salvus::vault {

inline constexpr size_t kMaxEmail = 254;

std::expected<std::string, std::string> NormalizeEmail(std::string_view raw);

// An account id: 32 lowercase hex digits (128 random bits, made by the hub).
bool ValidAccountId(std::string_view id);

// A token a mail carries (a password reset's): 16 to 128 of [A-Za-z0-9_-],
// so it goes into a URL and a mail's body as it is.
bool ValidMailToken(std::string_view token);

}  // namespace salvus::vault
