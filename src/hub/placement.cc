#include "hub/placement.h"

#include <algorithm>
#include <limits>

namespace salvus::hub {

namespace {
// The maximum assumed for a server that never said its own.
constexpr double kAssumedMax = 32;
}  // namespace

double LoadScore(const LinkLoad& l) {
  if (!l.reported) return l.own_sessions / kAssumedMax;
  const double used = l.sessions + l.started_since_report;
  const double fill = used / (l.max_sessions ? l.max_sessions : kAssumedMax);
  const double host = l.cpus ? l.load1 / l.cpus : 0.0;
  return fill + host;
}

bool LooksFull(const LinkLoad& l) {
  return l.full ||
         (l.reported && l.max_sessions && l.sessions + l.started_since_report >= l.max_sessions);
}

std::optional<size_t> PickLink(const std::vector<LinkLoad>& links,
                               const std::vector<size_t>& tried) {
  std::optional<size_t> best;
  bool best_full = true;
  double best_score = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < links.size(); ++i) {
    const LinkLoad& l = links[i];
    if (!l.up || !l.in_rotation || l.removed) continue;
    if (std::find(tried.begin(), tried.end(), i) != tried.end()) continue;
    const bool full = LooksFull(l);
    const double score = LoadScore(l);
    if (!best || (best_full && !full) || (full == best_full && score < best_score)) {
      best = i;
      best_full = full;
      best_score = score;
    }
  }
  return best;
}

}  // namespace salvus::hub
