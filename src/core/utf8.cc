#include "core/utf8.h"

#include <cstdint>

namespace salvus::core {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the valid sequence starting at s[0], 0 if invalid, or -1 if the
// bytes so far are a valid prefix that needs more input.
int SequenceLength(std::string_view s) {
  const auto b0 = static_cast<uint8_t>(s[0]);
  if (b0 < 0x80) return 1;
  int need;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (int i = 1; i < need; ++i) {
    if (static_cast<size_t>(i) >= s.size()) return -1;
    const auto b = static_cast<uint8_t>(s[i]);
    if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return 0;
  }
  return need;
}

// Appends the repaired form of `s` to out; returns how many trailing bytes
// were left unconsumed because they may be completed by later input.
size_t Repair(std::string_view s, bool final, std::string* out) {
  size_t i = 0;
  while (i < s.size()) {
    // Fast path for ASCII runs.
    size_t j = i;
    while (j < s.size() && static_cast<uint8_t>(s[j]) < 0x80) ++j;
    out->append(s.data() + i, j - i);
    i = j;
    if (i == s.size()) break;
    int n = SequenceLength(s.substr(i));
    if (n > 0) {
      out->append(s.data() + i, static_cast<size_t>(n));
      i += static_cast<size_t>(n);
    } else if (n < 0 && !final) {
      return s.size() - i;
    } else {
      out->append(kReplacement);
      ++i;
      if (n < 0) {  // truncated sequence at the very end: one replacement
        i = s.size();
      }
    }
  }
  return 0;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    int n = SequenceLength(s.substr(i));
    if (n <= 0) return false;
    i += static_cast<size_t>(n);
  }
  return true;
}

void Utf8Sanitizer::Feed(std::string_view bytes, std::string* out) {
  if (!pending_.empty()) {
    std::string joined = pending_ + std::string(bytes);
    pending_.clear();
    size_t keep = Repair(joined, false, out);
    pending_.assign(joined, joined.size() - keep, keep);
    return;
  }
  size_t keep = Repair(bytes, false, out);
  pending_.assign(bytes.substr(bytes.size() - keep));
}

void Utf8Sanitizer::Finish(std::string* out) {
  if (pending_.empty()) return;
  Repair(pending_, true, out);
  pending_.clear();
}

}  // namespace salvus::core
