#include "hub/blob_store.h"

#include <gtest/gtest.h>

#include "core/sha1.h"

namespace salvus::hub {
namespace {

TEST(BlobStore, KeepsBlobsUnderTheirSha1) {
  BlobStore store(1 << 20);
  const std::string png("\x89PNG\r\n\x1a\n\0\0binary", 16);
  const std::string name = core::Sha1Hex(png);
  ASSERT_TRUE(store.Put(name, "image/png", png));
  auto b = store.Get(name);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->data, png);
  EXPECT_EQ(b->mime, "image/png");
  EXPECT_EQ(store.count(), 1u);
  // The same blob again is kept once.
  ASSERT_TRUE(store.Put(name, "image/png", png));
  EXPECT_EQ(store.count(), 1u);
  EXPECT_EQ(store.bytes(), png.size());
}

TEST(BlobStore, MissingAndMalformedNamesFindNothing) {
  BlobStore store(1 << 20);
  EXPECT_EQ(store.Get(core::Sha1Hex("never stored")), nullptr);
  EXPECT_EQ(store.Get("../etc/passwd"), nullptr);
  EXPECT_EQ(store.Get(""), nullptr);
}

TEST(BlobStore, RefusesANameThatIsNotTheDataSha1) {
  BlobStore store(1 << 20);
  EXPECT_FALSE(store.Put(core::Sha1Hex("other bytes"), "image/png", "bytes"));
  EXPECT_FALSE(store.Put("not-a-sha1", "image/png", "bytes"));
  EXPECT_FALSE(store.Put(core::Sha1Hex("bytes").substr(0, 39), "image/png", "bytes"));
  EXPECT_EQ(store.count(), 0u);
}

TEST(BlobStore, DropsTheLeastRecentlyUsedPastItsBudget) {
  BlobStore store(3000);
  std::string a(1000, 'a'), b(1000, 'b'), c(1000, 'c'), d(1000, 'd');
  ASSERT_TRUE(store.Put(core::Sha1Hex(a), "x", a));
  ASSERT_TRUE(store.Put(core::Sha1Hex(b), "x", b));
  ASSERT_TRUE(store.Put(core::Sha1Hex(c), "x", c));
  ASSERT_NE(store.Get(core::Sha1Hex(a)), nullptr);   // a is now the most recent
  ASSERT_TRUE(store.Put(core::Sha1Hex(d), "x", d));  // b goes
  EXPECT_EQ(store.Get(core::Sha1Hex(b)), nullptr);
  EXPECT_NE(store.Get(core::Sha1Hex(a)), nullptr);
  EXPECT_NE(store.Get(core::Sha1Hex(c)), nullptr);
  EXPECT_NE(store.Get(core::Sha1Hex(d)), nullptr);
  EXPECT_LE(store.bytes(), 3000u);
  // A blob larger than the whole budget is refused, not kept alone.
  std::string huge(4000, 'h');
  EXPECT_FALSE(store.Put(core::Sha1Hex(huge), "x", huge));
}

TEST(BlobStore, ServesOnlyImagesAsThemselves) {
  EXPECT_EQ(BlobContentType("image/png"), "image/png");
  EXPECT_EQ(BlobContentType("image/svg+xml"), "image/svg+xml");
  EXPECT_EQ(BlobContentType("text/html"), "application/octet-stream");
  EXPECT_EQ(BlobContentType("application/javascript"), "application/octet-stream");
  EXPECT_EQ(BlobContentType("application/x-salvus-file"), "application/octet-stream");
}

}  // namespace
}  // namespace salvus::hub
