// The mails the vault writes: composed here from a template and a token,
// so that a hub chooses which mail an account gets but never its text's
// recipient. Pure functions; Mailer (mailer.h) sends what they make.
#pragma once

#include <ctime>
#include <expected>
#include <string>
#include <string_view>

namespace salvus::vault {

// A site address for links: http:// or https://, then printable ASCII with
// no space, quote or angle bracket; a trailing '/' is dropped.
std::expected<std::string, std::string> NormalizeSiteUrl(std::string_view url);

// An address for MAIL FROM and the From: header (checked like NormalizeEmail).
std::expected<std::string, std::string> CheckMailFrom(std::string_view from);

struct PasswordResetMail {
  std::string from;      // CheckMailFrom'd
  std::string to;        // NormalizeEmail'd
  std::string site_url;  // NormalizeSiteUrl'd
  std::string token;     // ValidMailToken
  std::time_t now = 0;
  std::string message_id;  // random, for the Message-ID header
};

// The whole message (headers, blank line, body; CRLF line ends), ready for
// SMTP DATA or a .eml file. The link is <site>/#reset=<token>: a fragment,
// so that the token reaches the page but no server's access log.
std::string ComposePasswordReset(const PasswordResetMail& m);

}  // namespace salvus::vault
