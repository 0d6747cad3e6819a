// Where the vault's passphrase comes from: a file descriptor (`--passphrase-fd
// N`, for systemd credentials, a pipe from a password manager) or a prompt on
// the controlling terminal, echo off. Never argv or the environment: both are
// readable by other processes (/proc/PID/cmdline, /proc/PID/environ).
#pragma once

#include <expected>
#include <string>

namespace salvus::vault {

inline constexpr size_t kMaxPassphrase = 1024;

// The first line read from `fd` (up to EOF or a newline; a trailing "\r"
// dropped), then closes `fd`. Empty or longer than kMaxPassphrase: an error.
std::expected<std::string, std::string> ReadPassphraseFd(int fd);

// Prompts on /dev/tty with echo off; `confirm`: asks twice and compares.
std::expected<std::string, std::string> PromptPassphrase(const std::string& prompt, bool confirm);

}  // namespace salvus::vault
