#include "vault/mail.h"

#include "vault/email.h"

namespace salvus::vault {

std::expected<std::string, std::string> NormalizeSiteUrl(std::string_view url) {
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return std::unexpected("the site address must start with http:// or https://");
  }
  if (url.size() > 512) return std::unexpected("the site address is longer than 512 bytes");
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\') {
      return std::unexpected("the site address holds a space, a quote or a non-ASCII character");
    }
  }
  std::string out(url);
  while (out.ends_with('/')) out.pop_back();
  if (out.size() <= std::string_view("https://").size()) {
    return std::unexpected("the site address has no host");
  }
  return out;
}

std::expected<std::string, std::string> CheckMailFrom(std::string_view from) {
  auto n = NormalizeEmail(from);
  if (!n) return std::unexpected("--mail-from: " + n.error());
  for (char c : *n) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return std::unexpected("--mail-from must be an ASCII address");
    }
  }
  return n;
}

std::string ComposePasswordReset(const PasswordResetMail& m) {
  char date[64];
  std::tm tm{};
  gmtime_r(&m.now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  const std::string domain = m.from.substr(m.from.find('@') + 1);
  const std::string link = m.site_url + "/#reset=" + m.token;
  std::string s;
  s += "From: Salvus <" + m.from + ">\r\n";
  s += "To: <" + m.to + ">\r\n";
  s += "Subject: Reset your Salvus password\r\n";
  s += std::string("Date: ") + date + "\r\n";
  s += "Message-ID: <" + m.message_id + "@" + domain + ">\r\n";
  s += "MIME-Version: 1.0\r\n";
  s += "Content-Type: text/plain; charset=utf-8\r\n";
  s += "Content-Transfer-Encoding: 8bit\r\n";
  s += "Auto-Submitted: auto-generated\r\n";
  s += "\r\n";
  s += "Someone asked to reset the password of the Salvus account of this address.\r\n";
  s += "If it was you, open this link within an hour to choose a new password:\r\n";
  s += "\r\n";
  s += link + "\r\n";
  s += "\r\n";
  s += "If it was not you, ignore this mail: your password stays as it is.\r\n";
  return s;
}

}  // namespace salvus::vault
