#include "hub/static_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace salvus::hub {

TEST(StaticFiles, ServesFilesAndRefusesEscapes) {
  char tmpl[] = "/tmp/salvus-web-XXXXXX";
  std::string root = mkdtemp(tmpl);
  std::filesystem::create_directories(root + "/assets");
  std::ofstream(root + "/index.html") << "<html>hi</html>";
  std::ofstream(root + "/assets/app-1234.js") << "console.log(1)";
  std::ofstream(root + "/.secret") << "no";
  auto get = [&](const std::string& target) {
    http::request<http::string_body> req{http::verb::get, target, 11};
    return ServeStatic(root, req);
  };
  auto index = get("/");
  EXPECT_EQ(index.result(), http::status::ok);
  EXPECT_EQ(index.body(), "<html>hi</html>");
  EXPECT_EQ(index[http::field::content_type], "text/html; charset=utf-8");
  auto js = get("/assets/app-1234.js?v=1");
  EXPECT_EQ(js.result(), http::status::ok);
  EXPECT_NE(std::string(js[http::field::cache_control]).find("immutable"), std::string::npos);
  EXPECT_EQ(get("/../etc/passwd").result(), http::status::not_found);
  EXPECT_EQ(get("/.secret").result(), http::status::not_found);
  EXPECT_EQ(get("/assets").result(), http::status::not_found);
  EXPECT_EQ(get("/missing.html").result(), http::status::not_found);
  // A shared cell's page is the page itself; only well-formed ids.
  EXPECT_EQ(get("/s/Ab3_x-9?autoeval=1").body(), "<html>hi</html>");
  EXPECT_EQ(get("/s/").result(), http::status::not_found);
  EXPECT_EQ(get("/s/a/b").result(), http::status::not_found);
  EXPECT_EQ(get("/s/" + std::string(65, 'a')).result(), http::status::not_found);
  http::request<http::string_body> post{http::verb::post, "/", 11};
  EXPECT_EQ(ServeStatic(root, post).result(), http::status::method_not_allowed);
  std::filesystem::remove_all(root);
}

}  // namespace salvus::hub
