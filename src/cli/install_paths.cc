// Where an installed salvus finds what it ships beside the binary.
#include <unistd.h>

#include <filesystem>

#include "cli/commands.h"

namespace salvus::cli {

std::string DefaultWebDir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  // Installed: BIN/../share/salvus/web (GNU install dirs, e.g. /usr/bin and
  // /usr/share/salvus/web); else the build's own web/dist.
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share/salvus/web";
    if (fs::exists(installed / "index.html", ec)) return installed.string();
  }
  return SALVUS_WEB_DIR;
}

}  // namespace salvus::cli
