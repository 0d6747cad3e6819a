// UTF-8 repair for byte streams that user code produces (it may write any
// bytes). Output leaving a worker is always valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace salvus::core {

bool IsValidUtf8(std::string_view s);

// Turns a byte stream, fed in arbitrary pieces, into valid UTF-8: each
// invalid sequence becomes U+FFFD. A multi-byte character split across two
// Feed calls is kept whole. Not thread-safe.
class Utf8Sanitizer {
 public:
  // Appends the valid text decodable so far to `out`.
  void Feed(std::string_view bytes, std::string* out);
  // Flushes an incomplete trailing sequence (as U+FFFD).
  void Finish(std::string* out);

 private:
  std::string pending_;  // at most 3 bytes of an incomplete sequence
};

}  // namespace salvus::core
