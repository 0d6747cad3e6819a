// The hub's blobs: images and files that cells produced, named by the
// SHA-1 of their bytes, kept in memory (least recently used dropped past a
// byte budget) and served to browsers at /blobs/<sha1>. With a database the
// hub also writes them to the Store, so a blob outlives the hub's memory.
//
// Thread-safe: every hub shard puts and gets (a blob arrives on the shard of
// the browser's session; its GET may land on any shard).
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace salvus::hub {

class BlobStore {
 public:
  struct Blob {
    std::string sha1;
    std::string mime;
    std::string data;
  };

  explicit BlobStore(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Keeps `data` under `sha1`. Returns false (and keeps nothing) when sha1
  // is not a SHA-1 name or not the SHA-1 of data, or data alone exceeds the
  // budget.
  bool Put(std::string sha1, std::string mime, std::string data);
  std::shared_ptr<const Blob> Get(std::string_view sha1);

  size_t bytes() const;
  size_t count() const;

 private:
  void EvictLocked();
  const size_t max_bytes_;
  mutable std::mutex mu_;
  size_t bytes_ = 0;
  std::list<std::shared_ptr<const Blob>> lru_;  // front: most recent
  std::unordered_map<std::string_view, std::list<std::shared_ptr<const Blob>>::iterator> index_;
};

// The Content-Type a blob is served with: images as themselves, anything
// else as a download (never as HTML or script on the hub's origin).
std::string BlobContentType(std::string_view mime);

}  // namespace salvus::hub
