// LogTail follows one log file the way `tail -F` does, for the monitor:
//
//  * It tracks (inode, offset) and returns only complete lines; a trailing
//    partial line waits for its newline (or for Read(final=true), when the
//    writer is gone).
//  * Rotation (the path now names another inode): the old file is read to its
//    end through the descriptor still open on it, then the new file from 0.
//  * Truncation (the file is now shorter than the offset): restart from 0.
//  * Resuming from a stored cursor: same inode -> seek to the offset; another
//    inode -> first finish the old file if it is still in the same folder
//    under a rotated name (e.g. "x.log.1"), then the current file from 0.
//  * It never writes, truncates or renames the file.
//
// Each line's time is the timestamp it starts with (what core::InitLogging
// writes: "YYYY-mm-dd HH:MM:SS.ffffff", local time); a line without one (a
// traceback's continuation) gets the previous line's time. Invalid UTF-8 is
// replaced by U+FFFD; a line longer than max_line_bytes keeps its head and
// says how much was cut.
//
// Limits: a writer that keeps writing to a rotated file after the rotation
// was noticed loses those lines (the cursor has moved on); of two rotations
// between two reads, the middle file is skipped; and a copy-and-truncate
// rotation that regrows the file past the offset between two reads cannot
// be told from appends. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace salvus::monitor {

struct TailedLine {
  int64_t time_ms = 0;  // unix ms
  std::string text;     // without the newline; valid UTF-8
};

struct TailOptions {
  size_t max_line_bytes = 64 * 1024;  // longer lines are cut, with a marker
  size_t max_batch_lines = 1000;
  size_t max_batch_bytes = 1 << 20;
  // Time for lines before any timestamped line. Default: now.
  std::function<int64_t()> now_ms;
};

struct TailBatch {
  std::vector<TailedLine> lines;
  // Where the next Read starts: after the last line in `lines`. Store it
  // together with the lines (Store::AddLogLines) and resume from it.
  store::LogCursor cursor;
  bool full = false;  // the batch hit a limit: more may be ready now
};

class LogTail {
 public:
  LogTail(std::string path, store::LogCursor start, TailOptions opt = {});
  ~LogTail();
  LogTail(const LogTail&) = delete;
  LogTail& operator=(const LogTail&) = delete;

  // Returns the complete lines written since the last call (at most one
  // batch). `final`: the writer has exited, so a trailing line without a
  // newline is returned too. Never throws; a missing file is no lines.
  TailBatch Read(bool final = false);

  store::LogCursor cursor() const { return {ino_, line_start_}; }

 private:
  bool OpenPath(bool resume);
  void OpenRotatedPredecessor();
  void Close();
  void EmitLine(TailBatch* batch);
  // Consumes bytes of buf (read at file offset `at`); returns how many were
  // consumed (fewer than size when the batch filled up).
  size_t Consume(std::string_view buf, TailBatch* batch);

  std::string path_;
  TailOptions opt_;
  store::LogCursor resume_;  // used by the first successful open only
  bool resumed_ = false;

  int fd_ = -1;
  uint64_t ino_ = 0;
  uint64_t dev_ = 0;
  uint64_t read_off_ = 0;     // bytes of the file consumed so far
  uint64_t line_start_ = 0;   // where the current (partial) line starts
  std::string partial_;       // its bytes, at most max_line_bytes
  uint64_t partial_cut_ = 0;  // bytes of it dropped beyond max_line_bytes
  int64_t last_time_ms_ = 0;
  size_t batch_bytes_ = 0;  // text bytes in the batch being built
};

// The time at the start of a line written by a salvus process
// ("2024-05-01 12:34:56.123456 [name] ...", local time), as unix ms. Also
// accepts a 'T' between date and time and 0..9 fractional digits.
std::optional<int64_t> ParseLineTime(std::string_view line);

}  // namespace salvus::monitor
