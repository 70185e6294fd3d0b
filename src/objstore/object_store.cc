// What every store shares: whole-file transfers and local file helpers.
#include "objstore/object_store.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace riffle::objstore {

// The defaults read or write the whole file in memory; the file store does not need more and
// the S3 store splits large bodies into parts.
Status ObjectStore::PutFile(const std::string& path, const std::string& local_file) {
  auto data = ReadLocalFile(local_file);
  if (!data.ok()) return data.status();
  return Put(path, *data);
}

Status ObjectStore::GetFile(const std::string& path, const std::string& local_file) {
  auto data = Get(path);
  if (!data.ok()) return data.status();
  return WriteLocalFile(local_file, *data);
}

Result<std::string> ReadLocalFile(const std::string& local_file) {
  std::FILE* f = std::fopen(local_file.c_str(), "rb");
  if (!f) return Status::IOError("cannot open " + local_file + ": " + std::strerror(errno));
  std::string out;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) out.append(buffer, n);
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) return Status::IOError("cannot read " + local_file);
  return out;
}

Status CreateParentDirectories(const std::string& local_file) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(local_file).parent_path(), ec);
  if (ec)
    return Status::IOError("cannot create the directory of " + local_file + ": " + ec.message());
  return Status::Ok();
}

// Written to a temporary name and renamed, so a reader never sees half a file.
Status WriteLocalFile(const std::string& local_file, std::string_view data) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(local_file).parent_path(), ec);
  std::string tmp = local_file + ".part." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Status::IOError("cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), local_file.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::IOError("cannot write " + local_file + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace riffle::objstore
