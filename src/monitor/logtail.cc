#include "monitor/logtail.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

#include "core/clock.h"
#include "core/utf8.h"

namespace salvus::monitor {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Unix seconds of the start of a local hour. mktime is slow (it consults the
// time zone each call), and a log has thousands of lines per hour.
std::optional<int64_t> LocalHourStart(int year, int month, int day, int hour) {
  struct Cache {
    int year = -1, month = 0, day = 0, hour = 0;
    int64_t start = 0;
  };
  thread_local Cache cache;
  if (cache.year == year && cache.month == month && cache.day == day && cache.hour == hour) {
    return cache.start;
  }
  tm t{};
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  t.tm_mday = day;
  t.tm_hour = hour;
  t.tm_isdst = -1;
  const time_t s = mktime(&t);
  if (s == static_cast<time_t>(-1)) return std::nullopt;
  cache = {year, month, day, hour, static_cast<int64_t>(s)};
  return cache.start;
}

// How many bytes at the end of `s` are an incomplete UTF-8 sequence (a
// multi-byte character cut in two by the line limit).
size_t IncompleteTail(std::string_view s) {
  for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    const auto b = static_cast<unsigned char>(s[s.size() - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace

std::optional<int64_t> ParseLineTime(std::string_view line) {
  if (!line.empty() && line[0] == '[') line.remove_prefix(1);
  int year, month, day, hour, minute, second;
  if (line.size() < 19 || !Digits(line, 0, 4, &year) || line[4] != '-' ||
      !Digits(line, 5, 2, &month) || line[7] != '-' || !Digits(line, 8, 2, &day) ||
      (line[10] != ' ' && line[10] != 'T') || !Digits(line, 11, 2, &hour) || line[13] != ':' ||
      !Digits(line, 14, 2, &minute) || line[16] != ':' || !Digits(line, 17, 2, &second)) {
    return std::nullopt;
  }
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  int ms = 0;
  if (line.size() > 20 && line[19] == '.') {
    int scale = 100;
    for (size_t i = 20; i < line.size() && i < 29 && line[i] >= '0' && line[i] <= '9'; ++i) {
      ms += (line[i] - '0') * scale;
      scale /= 10;
    }
  }
  auto hour_start = LocalHourStart(year, month, day, hour);
  if (!hour_start) return std::nullopt;
  return (*hour_start + minute * 60 + second) * 1000 + ms;
}

LogTail::LogTail(std::string path, store::LogCursor start, TailOptions opt)
    : path_(std::move(path)), opt_(std::move(opt)), resume_(start) {
  if (!opt_.now_ms) opt_.now_ms = core::NowMs;
  if (opt_.max_line_bytes == 0) opt_.max_line_bytes = 1;
  // Until a file is opened the cursor stays where we were told to start.
  ino_ = start.inode;
  line_start_ = read_off_ = start.offset;
  // Hold the file from now on, so a rotation before the first Read is seen.
  OpenPath(/*resume=*/true);
}

LogTail::~LogTail() { Close(); }

void LogTail::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool LogTail::OpenPath(bool resume) {
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd >= 0 && fstat(fd, &st) != 0) {
    close(fd);
    return false;
  }
  if (resume) {
    const bool same = fd >= 0 && static_cast<uint64_t>(st.st_ino) == resume_.inode;
    if (!same && resume_.inode != 0) {
      // Rotated while we were away: finish the old file first, if it is
      // still here under another name.
      OpenRotatedPredecessor();
      if (fd_ >= 0) {
        if (fd >= 0) close(fd);
        resumed_ = true;
        return true;
      }
    }
    if (fd < 0) return false;
    resumed_ = true;
    fd_ = fd;
    ino_ = st.st_ino;
    dev_ = st.st_dev;
    // Same file: continue where we stopped, unless it was truncated since.
    const uint64_t off =
        same && resume_.offset <= static_cast<uint64_t>(st.st_size) ? resume_.offset : 0;
    read_off_ = line_start_ = off;
    return true;
  }
  if (fd < 0) return false;
  fd_ = fd;
  ino_ = st.st_ino;
  dev_ = st.st_dev;
  read_off_ = line_start_ = 0;
  return true;
}

void LogTail::OpenRotatedPredecessor() {
  namespace fs = std::filesystem;
  const fs::path p(path_);
  const std::string base = p.filename().string();
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() <= base.size() || name.compare(0, base.size(), base) != 0) continue;
    if (static_cast<uint64_t>(e->d_ino) != resume_.inode) continue;
    const std::string full = (dir / name).string();
    const int fd = open(full.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0) continue;
    if (fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_ino) != resume_.inode ||
        static_cast<uint64_t>(st.st_size) < resume_.offset) {
      close(fd);
      continue;
    }
    fd_ = fd;
    ino_ = st.st_ino;
    dev_ = st.st_dev;
    read_off_ = line_start_ = resume_.offset;
    break;
  }
  closedir(d);
}

TailBatch LogTail::Read(bool final) {
  TailBatch batch;
  batch_bytes_ = 0;
  if (fd_ < 0 && !OpenPath(!resumed_)) {
    batch.cursor = cursor();
    return batch;
  }
  std::string buf(64 * 1024, '\0');
  // Set once the path was seen naming another file: the old file is then
  // read to its end once more before switching, since the writer may have
  // appended to it between our last read and its rename.
  bool rotated = false;
  while (!batch.full) {
    struct stat st {};
    if (fstat(fd_, &st) == 0 && static_cast<uint64_t>(st.st_size) < read_off_) {
      // Truncated: what was between the cursor and the old end is gone.
      read_off_ = line_start_ = 0;
      partial_.clear();
      partial_cut_ = 0;
    }
    const ssize_t n = pread(fd_, buf.data(), buf.size(), static_cast<off_t>(read_off_));
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      read_off_ += Consume(std::string_view(buf.data(), static_cast<size_t>(n)), &batch);
      continue;
    }
    // At the end of this file. Does the path name another file now?
    struct stat ps {};
    if (!rotated && stat(path_.c_str(), &ps) == 0 &&
        (static_cast<uint64_t>(ps.st_ino) != ino_ || static_cast<uint64_t>(ps.st_dev) != dev_)) {
      rotated = true;
      continue;
    }
    if (rotated) {
      rotated = false;
      // Nobody writes the old file any more: its unterminated line is whole.
      if (!partial_.empty() || partial_cut_ > 0) EmitLine(&batch);
      line_start_ = read_off_;
      Close();
      if (!OpenPath(false)) break;
      continue;
    }
    if (final && (!partial_.empty() || partial_cut_ > 0)) {
      EmitLine(&batch);
      line_start_ = read_off_;
    }
    break;
  }
  batch.cursor = cursor();
  return batch;
}

size_t LogTail::Consume(std::string_view buf, TailBatch* batch) {
  size_t i = 0;
  while (i < buf.size()) {
    const size_t nl = buf.find('\n', i);
    const size_t end = nl == std::string_view::npos ? buf.size() : nl;
    const size_t len = end - i;
    const size_t take =
        std::min(len, opt_.max_line_bytes - std::min(opt_.max_line_bytes, partial_.size()));
    partial_.append(buf.data() + i, take);
    partial_cut_ += len - take;
    if (nl == std::string_view::npos) return buf.size();
    i = nl + 1;
    EmitLine(batch);
    line_start_ = read_off_ + i;
    if (batch->lines.size() >= opt_.max_batch_lines || batch_bytes_ >= opt_.max_batch_bytes) {
      batch->full = true;
      break;
    }
  }
  return i;
}

void LogTail::EmitLine(TailBatch* batch) {
  std::string_view raw = partial_;
  if (partial_cut_ == 0 && !raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  if (auto t = ParseLineTime(raw)) {
    last_time_ms_ = *t;
  } else if (last_time_ms_ == 0) {
    last_time_ms_ = opt_.now_ms();
  }
  uint64_t cut = partial_cut_;
  if (cut > 0) {
    const size_t tail = IncompleteTail(raw);
    raw.remove_suffix(tail);
    cut += tail;
  }
  TailedLine line;
  line.time_ms = last_time_ms_;
  core::Utf8Sanitizer utf8;
  utf8.Feed(raw, &line.text);
  utf8.Finish(&line.text);
  // NUL is valid UTF-8 but not storable in a PostgreSQL text column.
  for (size_t p = line.text.find('\0'); p != std::string::npos; p = line.text.find('\0', p)) {
    line.text.replace(p, 1, "\xEF\xBF\xBD");
  }
  if (cut > 0) line.text += " [\xE2\x80\xA6 " + std::to_string(cut) + " bytes cut]";
  batch_bytes_ += line.text.size();
  batch->lines.push_back(std::move(line));
  partial_.clear();
  partial_cut_ = 0;
}

}  // namespace salvus::monitor
