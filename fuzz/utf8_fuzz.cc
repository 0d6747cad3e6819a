// Fuzz target: core/utf8 (what repairs the bytes user code writes).
// Checks, for any bytes: IsValidUtf8 agrees with a plain decoder written
// from RFC 3629; Utf8Sanitizer's output is valid UTF-8, equals the input
// when that was valid, and does not depend on how the input is cut into
// Feed calls (the cuts come from the input's own bytes).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/utf8.h"
#include "fuzz_check.h"

namespace {

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool ReferenceValid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (size_t j = 1; j < len; ++j) {
      const auto b = static_cast<uint8_t>(s[i + j]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    const uint32_t least = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < least || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using salvus::core::IsValidUtf8;
  using salvus::core::Utf8Sanitizer;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool valid = IsValidUtf8(in);
  FUZZ_CHECK(valid == ReferenceValid(in));

  std::string whole;
  Utf8Sanitizer a;
  a.Feed(in, &whole);
  a.Finish(&whole);
  FUZZ_CHECK(IsValidUtf8(whole));
  if (valid) FUZZ_CHECK(whole == in);

  std::string pieces;
  Utf8Sanitizer b;
  size_t i = 0, k = 0;
  while (i < size) {
    size_t n = data[k++ % size] % 8;
    if (n == 0) {
      b.Feed({}, &pieces);  // an empty piece changes nothing
      n = 1;
    }
    n = std::min(n, size - i);
    b.Feed(in.substr(i, n), &pieces);
    i += n;
  }
  b.Finish(&pieces);
  FUZZ_CHECK(pieces == whole);
  return 0;
}
