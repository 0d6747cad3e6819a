#include "vault/passphrase.h"

#include <fcntl.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace salvus::vault {

namespace {

// One line from `fd`, byte by byte (nothing past the newline is consumed).
std::expected<std::string, std::string> ReadLine(int fd) {
  std::string line;
  for (;;) {
    char c;
    const ssize_t r = read(fd, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return std::unexpected(std::string("cannot read the passphrase: ") + strerror(errno));
    if (r == 0 || c == '\n') break;
    if (line.size() == kMaxPassphrase) {
      sodium_memzero(line.data(), line.size());
      return std::unexpected("the passphrase is longer than " + std::to_string(kMaxPassphrase) +
                             " bytes");
    }
    line.push_back(c);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return std::unexpected("the passphrase is empty");
  return line;
}

}  // namespace

std::expected<std::string, std::string> ReadPassphraseFd(int fd) {
  auto line = ReadLine(fd);
  close(fd);
  return line;
}

std::expected<std::string, std::string> PromptPassphrase(const std::string& prompt, bool confirm) {
  const int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0) {
    return std::unexpected(
        "no terminal to ask for the passphrase on; give it on a file descriptor "
        "(--passphrase-fd N)");
  }
  termios old{};
  const bool is_tty = tcgetattr(tty, &old) == 0;
  auto ask = [&](const std::string& p) {
    (void)!write(tty, p.data(), p.size());
    if (is_tty) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      quiet.c_lflag |= ECHONL;
      tcsetattr(tty, TCSAFLUSH, &quiet);
    }
    auto line = ReadLine(tty);
    if (is_tty) tcsetattr(tty, TCSAFLUSH, &old);
    return line;
  };
  auto first = ask(prompt);
  if (first && confirm) {
    auto again = ask("Again: ");
    if (!again || *again != *first) {
      sodium_memzero(first->data(), first->size());
      first = std::unexpected(again ? "the two passphrases differ" : again.error());
    }
    if (again) sodium_memzero(again->data(), again->size());
  }
  close(tty);
  return first;
}

}  // namespace salvus::vault
