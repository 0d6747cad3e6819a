// Fuzz target: hub/query_string (the parameters of /admin's API and its
// login form). Checks, for any bytes: a parse that succeeds holds at most
// kMaxQueryParams names and values, each at most kMaxQueryValue bytes of
// UTF-8 without NUL; written back with every byte %-escaped it parses to
// the same parameters; ParseBoundedInt gives only numbers within its bounds
// whose decimal form is exactly the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/utf8.h"
#include "fuzz_check.h"
#include "hub/query_string.h"

namespace {

std::string Escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out.push_back('%');
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace salvus::hub;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto p = ParseQuery(in)) {
    FUZZ_CHECK(p->size() <= kMaxQueryParams);
    std::string again;
    for (const auto& [k, v] : *p) {
      FUZZ_CHECK(k.size() <= kMaxQueryValue && v.size() <= kMaxQueryValue);
      FUZZ_CHECK(salvus::core::IsValidUtf8(k) && salvus::core::IsValidUtf8(v));
      FUZZ_CHECK(k.find('\0') == std::string::npos && v.find('\0') == std::string::npos);
      again += (again.empty() ? "" : "&") + Escape(k) + "=" + Escape(v);
    }
    auto q = ParseQuery(again);
    // An empty name written back ("=v") parses as the name "" again.
    FUZZ_CHECK(q && *q == *p);
  }
  auto t = ParseTarget(in);
  FUZZ_CHECK(t.has_value() == ParseQuery(in.find('?') == std::string_view::npos
                                             ? std::string_view{}
                                             : in.substr(in.find('?') + 1))
                                  .has_value());
  if (auto n = ParseBoundedInt(in, 1, 1000000)) {
    FUZZ_CHECK(*n >= 1 && *n <= 1000000 && std::to_string(*n) == in);
  }
  return 0;
}
