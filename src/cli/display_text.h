// How `salvus exec` shows a Display in a terminal. Pure; thread-safe.
#pragma once

#include <string>

#include "proto/salvus.pb.h"

namespace salvus::cli {

// One line (no newline at the end) standing for a Display in a terminal:
// the text of text/* and help displays, a placeholder with a link for blobs.
std::string DisplayText(const proto::Display& d, const std::string& http_base);

}  // namespace salvus::cli
