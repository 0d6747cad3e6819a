#include "cli/display_text.h"

namespace salvus::cli {

std::string DisplayText(const proto::Display& d, const std::string& http_base) {
  auto chomp = [](std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  };
  const std::string& mime = d.mime();
  if (mime == "text/html" || mime == "text/latex" || mime == "text/markdown" ||
      mime == "text/plain" || mime == "application/x-salvus-help") {
    return chomp(d.text());
  }
  std::string s = "[" + (mime.empty() ? std::string("display") : mime);
  if (!d.name().empty()) s += " " + d.name();
  if (d.width() && d.height())
    s += " " + std::to_string(d.width()) + "x" + std::to_string(d.height());
  if (!d.blob().empty()) {
    s += ": " + http_base + "/blobs/" + d.blob();
  } else if (mime == "application/x-salvus-interact") {
    s += ": open the worksheet in a browser to use it";
  } else if (!d.text().empty()) {
    return s + "]\n" + chomp(d.text());
  }
  return s + "]";
}

}  // namespace salvus::cli
