// Fuzz target: the compute server's readers of /proc/PID/cgroup and
// /proc/PID/mountinfo (compute/cgroup). Mount points are escaped by the
// kernel but chosen by whoever mounts (in a container, not us). The input is
// cut at the first 0xFF into a cgroup file and a mountinfo.
//
// Checks: every membership and mount read comes from a line of the input;
// a cgroup directory found lies below its mount point.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compute/cgroup.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace salvus::compute;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t cut = in.find('\xFF');
  const std::string_view cgroup = in.substr(0, cut);
  const std::string_view mountinfo = cut == in.npos ? std::string_view() : in.substr(cut + 1);

  const auto memberships = ParseProcCgroup(cgroup);
  for (const auto& m : memberships) {
    FUZZ_CHECK(m.controllers.find('\n') == std::string::npos);
    FUZZ_CHECK(m.path.find('\n') == std::string::npos);
  }
  const auto mounts = ParseCgroupMounts(mountinfo);
  for (const auto& m : mounts) {
    FUZZ_CHECK(m.mount_point.size() <= mountinfo.size());
    FUZZ_CHECK(!m.unified || m.controllers.empty());
  }
  for (std::string_view controller : {"", "memory", "pids", "cpu"}) {
    const std::string dir = OwnCgroupDirectory(mounts, memberships, controller);
    if (dir.empty()) continue;
    bool below = false;
    for (const auto& m : mounts) below = below || dir.starts_with(m.mount_point);
    FUZZ_CHECK(below);
  }
  (void)HasAllWords(cgroup, {"memory", "pids"});
  return 0;
}
