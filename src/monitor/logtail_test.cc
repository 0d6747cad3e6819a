#include "monitor/logtail.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/utf8.h"

namespace salvus::monitor {
namespace {

namespace fs = std::filesystem;

class LogTailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/salvus-logtail-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/service.log";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Appends raw bytes, as a writer with the file open would.
  void Append(const std::string& bytes, const std::string& path = "") {
    const int fd = open((path.empty() ? path_ : path).c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    close(fd);
  }
  uint64_t Inode(const std::string& path) {
    struct stat st {};
    stat(path.c_str(), &st);
    return st.st_ino;
  }
  static std::vector<std::string> Texts(const TailBatch& b) {
    std::vector<std::string> out;
    for (auto& l : b.lines) out.push_back(l.text);
    return out;
  }
  static TailOptions Fixed() {
    TailOptions o;
    o.now_ms = [] { return int64_t{42}; };
    return o;
  }

  std::string dir_, path_;
};

using Lines = std::vector<std::string>;

TEST_F(LogTailTest, MissingFileThenLines) {
  LogTail t(path_, {}, Fixed());
  EXPECT_TRUE(t.Read().lines.empty());
  Append("one\ntwo\n");
  auto b = t.Read();
  EXPECT_EQ(Texts(b), (Lines{"one", "two"}));
  EXPECT_EQ(b.cursor.inode, Inode(path_));
  EXPECT_EQ(b.cursor.offset, 8u);
  EXPECT_TRUE(t.Read().lines.empty());
}

TEST_F(LogTailTest, PartialLineWaitsForItsNewline) {
  LogTail t(path_, {}, Fixed());
  Append("a\nb");
  auto b = t.Read();
  EXPECT_EQ(Texts(b), (Lines{"a"}));
  EXPECT_EQ(b.cursor.offset, 2u);  // before the partial line
  Append("c");
  EXPECT_TRUE(t.Read().lines.empty());
  Append("d\r\ne");
  b = t.Read();
  EXPECT_EQ(Texts(b), (Lines{"bcd"}));
  EXPECT_EQ(b.cursor.offset, 7u);
  // The writer is gone: its unterminated last line is a line.
  b = t.Read(/*final=*/true);
  EXPECT_EQ(Texts(b), (Lines{"e"}));
  EXPECT_EQ(b.cursor.offset, 8u);
  EXPECT_TRUE(t.Read(true).lines.empty());
}

TEST_F(LogTailTest, EmptyLinesAreLines) {
  LogTail t(path_, {}, Fixed());
  Append("\n\nx\n");
  EXPECT_EQ(Texts(t.Read()), (Lines{"", "", "x"}));
}

TEST_F(LogTailTest, TimesComeFromTheLines) {
  LogTail t(path_, {}, Fixed());
  Append("no time yet\n");
  Append("2024-03-05 06:07:08.123456 [compute] [info] started\n");
  Append("Traceback (most recent call last):\n  File \"x\", line 1\n");
  Append("2024-03-05 06:07:09.000001 [compute] [error] boom\n");
  auto b = t.Read();
  ASSERT_EQ(b.lines.size(), 5u);
  const int64_t t0 = *ParseLineTime("2024-03-05 06:07:08.123456");
  EXPECT_EQ(b.lines[0].time_ms, 42);  // nothing before it: now
  EXPECT_EQ(b.lines[1].time_ms, t0);
  EXPECT_EQ(b.lines[2].time_ms, t0);  // continuation lines: the previous time
  EXPECT_EQ(b.lines[3].time_ms, t0);
  EXPECT_EQ(b.lines[4].time_ms, t0 + 877);
}

TEST(ParseLineTimeTest, LocalTimeLikeSpdlog) {
  // spdlog (core/log.cc) writes local time: the same fields through mktime.
  for (const char* tz : {"UTC", "America/New_York", "Asia/Kolkata"}) {
    setenv("TZ", tz, 1);
    tzset();
    tm t{};
    t.tm_year = 2023 - 1900;
    t.tm_mon = 10;  // November
    t.tm_mday = 28;
    t.tm_hour = 10;
    t.tm_min = 26;
    t.tm_sec = 59;
    t.tm_isdst = -1;
    const int64_t want = static_cast<int64_t>(mktime(&t)) * 1000 + 987;
    // (the per-hour cache must not leak between zones in a real process: one
    // process has one zone; here each zone uses another hour)
    EXPECT_EQ(ParseLineTime("2023-11-28 10:26:59.987654 [hub] [info] x"), want) << tz;
    t.tm_hour = 11;
    t.tm_isdst = -1;
    (void)ParseLineTime("2000-01-01 00:00:00");  // reset the cache
  }
  setenv("TZ", "UTC", 1);
  tzset();
  (void)ParseLineTime("2000-01-01 01:00:00");
  EXPECT_EQ(ParseLineTime("1970-01-01 00:00:01.5"), 1500);
  EXPECT_EQ(ParseLineTime("1970-01-01T00:00:01"), 1000);
  EXPECT_EQ(ParseLineTime("[1970-01-02 00:00:00.001] x"), 86400001);
  EXPECT_EQ(ParseLineTime("2024-02-29 23:59:59.999999999"), 1709251199999);
  EXPECT_FALSE(ParseLineTime(""));
  EXPECT_FALSE(ParseLineTime("  File \"<cell-3>\", line 2"));
  EXPECT_FALSE(ParseLineTime("2024-13-01 00:00:00"));
  EXPECT_FALSE(ParseLineTime("2024-01-01 24:00:00"));
  EXPECT_FALSE(ParseLineTime("2024-01-01 10:00"));
  EXPECT_FALSE(ParseLineTime("2024/01/01 10:00:00"));
  unsetenv("TZ");
  tzset();
}

TEST_F(LogTailTest, Rotation) {
  LogTail t(path_, {}, Fixed());
  Append("1\n2\n");
  EXPECT_EQ(Texts(t.Read()), (Lines{"1", "2"}));
  const uint64_t old_ino = Inode(path_);
  // The writer still holds the old file: it appends there, then the file is
  // renamed and a new one created (logrotate's "create").
  const int writer = open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  ASSERT_EQ(write(writer, "3\n4", 3), 3);
  fs::rename(path_, path_ + ".1");
  ASSERT_EQ(write(writer, "5\n6", 3), 3);  // after the rename, before we look
  close(writer);
  Append("7\n8\n");
  auto b = t.Read();
  // The old file to its end (its unterminated "6" included), then the new.
  EXPECT_EQ(Texts(b), (Lines{"3", "45", "6", "7", "8"}));
  EXPECT_NE(b.cursor.inode, old_ino);
  EXPECT_EQ(b.cursor.inode, Inode(path_));
  EXPECT_EQ(b.cursor.offset, 4u);
  // Never modified: the rotated file holds everything written to it.
  std::string old;
  {
    std::ifstream in(path_ + ".1");
    old.assign(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_EQ(old, "1\n2\n3\n45\n6");
}

TEST_F(LogTailTest, RotationToMissingPathKeepsReadingOldFile) {
  LogTail t(path_, {}, Fixed());
  Append("1\n");
  EXPECT_EQ(Texts(t.Read()), (Lines{"1"}));
  fs::rename(path_, path_ + ".old");
  Append("2\n", path_ + ".old");
  EXPECT_EQ(Texts(t.Read()), (Lines{"2"}));
  Append("3\n");
  EXPECT_EQ(Texts(t.Read()), (Lines{"3"}));
}

TEST_F(LogTailTest, Truncation) {
  LogTail t(path_, {}, Fixed());
  Append("first line\nsecond line\npart");
  EXPECT_EQ(Texts(t.Read()), (Lines{"first line", "second line"}));
  const uint64_t ino = Inode(path_);
  ASSERT_EQ(truncate(path_.c_str(), 0), 0);
  Append("new\n");
  auto b = t.Read();
  EXPECT_EQ(Texts(b), (Lines{"new"}));
  EXPECT_EQ(b.cursor.inode, ino);
  EXPECT_EQ(b.cursor.offset, 4u);
  // Truncated to zero and not written yet: nothing, and no error.
  ASSERT_EQ(truncate(path_.c_str(), 0), 0);
  EXPECT_TRUE(t.Read().lines.empty());
  Append("again\n");
  EXPECT_EQ(Texts(t.Read()), (Lines{"again"}));
}

TEST_F(LogTailTest, ResumeFromCursor) {
  Append("a\nb\nc");
  store::LogCursor c;
  {
    LogTail t(path_, {}, Fixed());
    auto b = t.Read();
    EXPECT_EQ(Texts(b), (Lines{"a", "b"}));
    c = b.cursor;
  }
  Append("\nd\n");
  LogTail t(path_, c, Fixed());
  EXPECT_EQ(t.cursor().offset, c.offset);
  EXPECT_EQ(Texts(t.Read()), (Lines{"c", "d"}));
}

TEST_F(LogTailTest, ResumeAfterRotationFinishesTheOldFile) {
  Append("a\nb\n");
  store::LogCursor c;
  {
    LogTail t(path_, {}, Fixed());
    c = t.Read().cursor;
  }
  Append("c\n");  // written after the monitor stopped, before the rotation
  fs::rename(path_, path_ + ".1");
  Append("d\n");
  LogTail t(path_, c, Fixed());
  EXPECT_EQ(Texts(t.Read()), (Lines{"c", "d"}));
}

TEST_F(LogTailTest, ResumeAfterRotatedFileIsGoneStartsAtZero) {
  Append("a\nb\n");
  store::LogCursor c;
  {
    LogTail t(path_, {}, Fixed());
    c = t.Read().cursor;
  }
  fs::rename(path_, dir_ + "/elsewhere");  // not "service.log*": not ours
  Append("x\ny\n");
  LogTail t(path_, c, Fixed());
  EXPECT_EQ(Texts(t.Read()), (Lines{"x", "y"}));
}

TEST_F(LogTailTest, ResumeOnTruncatedFileStartsAtZero) {
  Append("aaaa\nbbbb\n");
  store::LogCursor c;
  {
    LogTail t(path_, {}, Fixed());
    c = t.Read().cursor;
  }
  ASSERT_EQ(truncate(path_.c_str(), 0), 0);
  Append("z\n");
  LogTail t(path_, c, Fixed());
  EXPECT_EQ(Texts(t.Read()), (Lines{"z"}));
}

TEST_F(LogTailTest, InvalidUtf8IsReplaced) {
  LogTail t(path_, {}, Fixed());
  Append(std::string("ok \xff\xfe bad \xc3(\n", 13) + std::string("nul\0byte\n", 9) +
         "trunc \xe2\x82\n\xc3\xa9t\xc3\xa9\n");
  auto b = t.Read();
  ASSERT_EQ(b.lines.size(), 4u);
  for (auto& l : b.lines) {
    EXPECT_TRUE(core::IsValidUtf8(l.text)) << l.text;
    EXPECT_EQ(l.text.find('\0'), std::string::npos);
  }
  EXPECT_EQ(b.lines[0].text, "ok \xEF\xBF\xBD\xEF\xBF\xBD bad \xEF\xBF\xBD(");
  EXPECT_EQ(b.lines[1].text,
            "nul\xEF\xBF\xBD"
            "byte");
  EXPECT_EQ(b.lines[2].text, "trunc \xEF\xBF\xBD");
  EXPECT_EQ(b.lines[3].text, "\xc3\xa9t\xc3\xa9");  // valid text untouched
}

TEST_F(LogTailTest, LongLinesAreCut) {
  TailOptions o = Fixed();
  o.max_line_bytes = 1000;
  LogTail t(path_, {}, o);
  // 200 KB in pieces, as a slow writer would; an "é" straddles the limit.
  std::string line = "2024-01-01 00:00:00.000000 " + std::string(972, 'x') + "\xc3\xa9";
  line += std::string(200 * 1024 - line.size(), 'y');
  Append(line.substr(0, 500));
  EXPECT_TRUE(t.Read().lines.empty());
  Append(line.substr(500, 100000));
  EXPECT_TRUE(t.Read().lines.empty());
  Append(line.substr(100500) + "\nnext\n");
  auto b = t.Read();
  ASSERT_EQ(b.lines.size(), 2u);
  const std::string& cut = b.lines[0].text;
  EXPECT_TRUE(core::IsValidUtf8(cut));
  EXPECT_EQ(cut.substr(0, 999), line.substr(0, 999));
  EXPECT_NE(cut.find("bytes cut]"), std::string::npos);
  EXPECT_NE(cut.find(std::to_string(line.size() - 999)), std::string::npos) << cut.substr(990);
  EXPECT_LT(cut.size(), 1100u);
  EXPECT_EQ(b.lines[0].time_ms, *ParseLineTime(line));
  EXPECT_EQ(b.lines[1].text, "next");
  EXPECT_EQ(b.cursor.offset, line.size() + 1 + 5);
}

TEST_F(LogTailTest, BatchesAreBounded) {
  TailOptions o = Fixed();
  o.max_batch_lines = 3;
  LogTail t(path_, {}, o);
  std::string text;
  for (int i = 0; i < 10; ++i) text += std::to_string(i) + "\n";
  Append(text);
  Lines all;
  uint64_t last_offset = 0;
  for (int i = 0; i < 10; ++i) {
    auto b = t.Read();
    EXPECT_LE(b.lines.size(), 3u);
    EXPECT_GE(b.cursor.offset, last_offset);
    last_offset = b.cursor.offset;
    for (auto& s : Texts(b)) all.push_back(s);
    if (!b.full) break;
  }
  EXPECT_EQ(all.size(), 10u);
  EXPECT_EQ(all.back(), "9");
  EXPECT_EQ(last_offset, text.size());
}

// Random appends (whole and split lines), rotations and truncation-free
// restarts from the cursor: every line arrives exactly once, in order.
TEST_F(LogTailTest, NoLossNoDuplicatesUnderRotationAndRestarts) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::mt19937 rng(seed);
    TailOptions o = Fixed();
    o.max_batch_lines = 1 + rng() % 7;
    int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    auto tail = std::make_unique<LogTail>(path_, store::LogCursor{}, o);
    int next = 0, rotations = 0;
    std::string pending;  // a line begun but not ended
    Lines got;
    bool read_since_rotation = true;
    auto read = [&](bool final) {
      for (;;) {
        auto b = tail->Read(final);
        for (auto& s : Texts(b)) got.push_back(s);
        if (!b.full) break;
      }
    };
    for (int step = 0; step < 300; ++step) {
      const unsigned r = rng() % 100;
      if (r < 55) {
        std::string s = pending;  // first the end of a line begun before
        pending.clear();
        for (unsigned k = rng() % 5; k > 0; --k) s += "line " + std::to_string(next++) + "\n";
        if (rng() % 3 == 0) {  // and the start of the next one
          pending = "line " + std::to_string(next++);
          s += pending.substr(0, 3);
          pending = pending.substr(3) + "\n";
        }
        ASSERT_EQ(write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
        if (rng() % 2 && !pending.empty()) {
          ASSERT_EQ(write(fd, pending.data(), pending.size()),
                    static_cast<ssize_t>(pending.size()));
          pending.clear();
        }
      } else if (r < 65 && read_since_rotation && pending.empty()) {
        fs::rename(path_, path_ + "." + std::to_string(++rotations));
        close(fd);
        fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        read_since_rotation = false;
      } else if (r < 72) {
        // The monitor restarts: a new tail from the saved cursor.
        const auto c = tail->cursor();
        tail = std::make_unique<LogTail>(path_, c, o);
      } else {
        read(false);
        read_since_rotation = true;
      }
    }
    if (!pending.empty()) {
      ASSERT_EQ(write(fd, pending.data(), pending.size()), static_cast<ssize_t>(pending.size()));
    }
    close(fd);
    read(true);
    if (got.size() != static_cast<size_t>(next)) {
      for (size_t i = 0; i < got.size(); ++i) {
        if (got[i] != "line " + std::to_string(i)) {
          ADD_FAILURE() << "seed " << seed << " first difference at " << i << ": " << got[i];
          break;
        }
      }
    }
    ASSERT_EQ(got.size(), static_cast<size_t>(next)) << "seed " << seed;
    for (int i = 0; i < next; ++i) {
      ASSERT_EQ(got[i], "line " + std::to_string(i)) << "seed " << seed;
    }
  }
}

// A real concurrent writer that rotates (waiting until the tail followed the
// previous rotation, the documented limit): nothing lost or repeated.
TEST_F(LogTailTest, ConcurrentWriterWithRotations) {
  constexpr int kLines = 20000;
  std::atomic<uint64_t> followed_inode{0};
  std::thread writer([&] {
    int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    for (int i = 0; i < kLines; ++i) {
      const std::string s = "2024-01-01 00:00:00.000000 [w] [info] " + std::to_string(i) + "\n";
      // Two writes: the reader sees partial lines.
      const size_t half = s.size() / 2;
      (void)!write(fd, s.data(), half);
      (void)!write(fd, s.data() + half, s.size() - half);
      if (i % 2500 == 2499) {
        struct stat st {};
        fstat(fd, &st);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (followed_inode.load() != st.st_ino && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        fs::rename(path_, path_ + "." + std::to_string(i));
        close(fd);
        fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      }
    }
    close(fd);
  });
  LogTail t(path_, {}, Fixed());
  std::vector<int> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (got.size() < static_cast<size_t>(kLines) && std::chrono::steady_clock::now() < deadline) {
    auto b = t.Read();
    followed_inode = b.cursor.inode;
    for (auto& l : b.lines) got.push_back(std::stoi(l.text.substr(l.text.rfind(' ') + 1)));
    if (!b.full) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  writer.join();
  ASSERT_EQ(got.size(), static_cast<size_t>(kLines));
  for (int i = 0; i < kLines; ++i) ASSERT_EQ(got[i], i);
}

}  // namespace
}  // namespace salvus::monitor
