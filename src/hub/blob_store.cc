#include "hub/blob_store.h"

#include "core/sha1.h"

namespace salvus::hub {

bool BlobStore::Put(std::string sha1, std::string mime, std::string data) {
  if (!core::IsSha1Hex(sha1) || data.size() > max_bytes_) return false;
  if (core::Sha1Hex(data) != sha1) return false;
  auto blob = std::make_shared<const Blob>(Blob{std::move(sha1), std::move(mime), std::move(data)});
  std::lock_guard lock(mu_);
  if (auto it = index_.find(blob->sha1); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return true;
  }
  bytes_ += blob->data.size();
  lru_.push_front(std::move(blob));
  index_.emplace(lru_.front()->sha1, lru_.begin());
  EvictLocked();
  return true;
}

std::shared_ptr<const BlobStore::Blob> BlobStore::Get(std::string_view sha1) {
  std::lock_guard lock(mu_);
  auto it = index_.find(sha1);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return *it->second;
}

void BlobStore::EvictLocked() {
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    const auto& last = lru_.back();
    bytes_ -= last->data.size();
    index_.erase(last->sha1);
    lru_.pop_back();
  }
}

size_t BlobStore::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t BlobStore::count() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

std::string BlobContentType(std::string_view mime) {
  for (std::string_view ok :
       {"image/png", "image/jpeg", "image/gif", "image/svg+xml", "image/webp"}) {
    if (mime == ok) return std::string(ok);
  }
  return "application/octet-stream";
}

}  // namespace salvus::hub
