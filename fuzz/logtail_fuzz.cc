// Fuzz target: the monitor's reading of log files (monitor/logtail), which
// copies into the database whatever processes write to their logs, user
// code's bytes included. ParseLineTime on the whole input; then the input,
// appended to a file in pieces, is tailed with a small line limit.
//
// Checks: a parsed time is a plausible unix time; every line is valid
// UTF-8 without NUL or newline, at most the limit (each byte repaired to
// U+FFFD counts 3) plus the cut marker; there is one line per newline, plus
// the unterminated rest at the end.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/utf8.h"
#include "fuzz_check.h"
#include "monitor/logtail.h"

namespace {

struct LogFile {
  std::string path;
  LogFile() {
    char tmpl[] = "/tmp/salvus-fuzz-logtail-XXXXXX";
    const int fd = mkstemp(tmpl);
    FUZZ_CHECK(fd >= 0);
    close(fd);
    path = tmpl;
  }
  ~LogFile() { unlink(path.c_str()); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace salvus::monitor;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto t = ParseLineTime(in)) {
    // 1970 (less a day for time zones) to the end of year 9999.
    FUZZ_CHECK(*t >= -86'400'000LL * 2 && *t < 253'402'387'200'000LL);
  }
  if (size < 1) return 0;

  static LogFile file;
  FUZZ_CHECK(truncate(file.path.c_str(), 0) == 0);
  const size_t max_line = 1 + data[0] % 64;
  LogTail tail(
      file.path, {},
      {.max_line_bytes = max_line, .max_batch_lines = 3, .max_batch_bytes = 256, .now_ms = [] {
         return int64_t{42};
       }});
  const std::string_view text = in.substr(1);
  size_t lines = 0, at = 0, k = 0;
  auto read_all = [&](bool final) {
    for (int i = 0; i < 10'000; ++i) {
      const TailBatch b = tail.Read(final);
      for (const TailedLine& l : b.lines) {
        FUZZ_CHECK(salvus::core::IsValidUtf8(l.text));
        FUZZ_CHECK(l.text.find('\0') == std::string::npos);
        FUZZ_CHECK(l.text.find('\n') == std::string::npos);
        FUZZ_CHECK(l.text.size() <= 3 * max_line + 40);
      }
      lines += b.lines.size();
      if (!b.full) return;
    }
    FUZZ_CHECK(false);  // never done
  };
  while (at < text.size()) {
    const size_t n = std::min<size_t>(text.size() - at, 1 + data[k++ % size] * 3);
    FILE* f = fopen(file.path.c_str(), "ab");
    FUZZ_CHECK(f != nullptr);
    FUZZ_CHECK(fwrite(text.data() + at, 1, n, f) == n);
    fclose(f);
    at += n;
    read_all(false);
  }
  read_all(true);
  const size_t newlines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  const bool rest = !text.empty() && text.back() != '\n';
  FUZZ_CHECK(lines == newlines + (rest ? 1 : 0));
  return 0;
}
