#include <map>
#include <mutex>

#include "objstore/object_store.h"

namespace riffle::objstore {
namespace {

class MemoryStore final : public ObjectStore {
 public:
  Status Put(const std::string& path, std::string_view data) override {
    std::lock_guard lock(mu_);
    objects_[path] = std::string(data);
    return Status::Ok();
  }
  Status PutIfAbsent(const std::string& path, std::string_view data) override {
    std::lock_guard lock(mu_);
    if (!objects_.emplace(path, std::string(data)).second)
      return Status::AlreadyExists("object already exists: " + path);
    return Status::Ok();
  }
  Result<std::string> Get(const std::string& path) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(path);
    if (it == objects_.end()) return Status::NotFound("object not found: " + path);
    return it->second;
  }
  Status Delete(const std::string& path) override {
    std::lock_guard lock(mu_);
    objects_.erase(path);
    return Status::Ok();
  }
  Result<std::vector<std::string>> List(const std::string& prefix) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> keys;
    for (auto it = objects_.lower_bound(prefix);
         it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
      keys.push_back(it->first);
    return keys;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> objects_;
};

}  // namespace

std::unique_ptr<ObjectStore> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace riffle::objstore
