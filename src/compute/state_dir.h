// The compute server's state directory (--state-dir): its zygote's home and
// `homes/`, one home per session. Root deletes things inside it, so it must
// be a real directory of this user's, not one someone else prepared (a
// predictable /tmp path, a symlink), and session uids must be able to reach
// their homes through it.
#pragma once

#include <sys/types.h>

#include <expected>
#include <string>

namespace salvus::compute {

struct StateDir {
  std::string path;
  bool temporary = false;  // a fresh mkdtemp: removed when the server stops
};

// The default: /var/lib/salvus/compute as root. Otherwise
// `xdg_runtime_dir`/salvus-compute when that is a private directory of this
// user's (lstat: a directory, owned by the euid, no group or other access),
// else a fresh /tmp/salvus-compute-UID-XXXXXX (mkdtemp).
std::expected<StateDir, std::string> DefaultStateDir(bool root, const char* xdg_runtime_dir);

// Creates `dir` where missing (and its parents), checks that it is a
// directory (not a symlink) owned by this euid, and gives it `mode`, through
// one descriptor. Any failure, chmod included, is an error naming the path.
std::expected<void, std::string> PrepareOwnDirectory(const std::string& dir, mode_t mode);

// Creates `dir` and `dir`/homes where missing, checks that both are
// directories (not symlinks) owned by this euid, and gives them mode 0711 as
// root (session uids pass through to their homes) or 0700. Any failure,
// chmod included, is an error naming the path.
std::expected<void, std::string> PrepareStateDir(const std::string& dir, bool root);

// The first directory from / down to `path` (included, absolute) that users
// other than its owner cannot pass through (no x for others), with its mode;
// "" when every one can be passed. Session uids are such users.
std::string FirstClosedToOthers(const std::string& path);

}  // namespace salvus::compute
