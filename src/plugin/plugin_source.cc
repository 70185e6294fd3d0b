#include "plugin/plugin_source.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace riffle::plugin {
namespace {

namespace fs = std::filesystem;

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Result<std::string> Fetch(const std::string& url) {
  CURL* curl = curl_easy_init();
  if (!curl) return Status::Internal("cannot initialise libcurl");
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK)
    return Status::NotFound("error fetching plugin from repository: " +
                            std::string(curl_easy_strerror(rc)) + " " + url);
  if (status < 200 || status >= 300)
    return Status::NotFound("error fetching plugin from repository: " + std::to_string(status) +
                            (status == 404 ? " Not Found " : " ") + url);
  return body;
}

Result<std::string> ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Status::NotFound("reading plugin file: Plugin not found: " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t MtimeNanos(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

}  // namespace

Result<std::string> ResolveLocalPath(const std::string& plugin_dir, const std::string& filename) {
  if (plugin_dir.empty())
    return Status::InvalidArgument(
        "Plugin error: reading plugin file: Node not configured with plugin directory");
  for (unsigned char c : filename)
    if (c < 0x20 || c == 0x7f)
      return Status::InvalidArgument(
          "plugin filename contains a control character: expected a file name such as "
          "'my_plugin.py'");
  std::string name = filename;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  fs::path rel(name);
  auto traversal = [&] {
    return Status::InvalidArgument("Path traversal detected: plugin filename '" + filename +
                                   "' attempts to access files outside the plugin directory");
  };
  if (name.empty() || rel.is_absolute() || rel.has_root_name()) return traversal();
  for (const auto& part : rel)
    if (part == "..") return traversal();
  std::error_code ec;
  fs::path root = fs::weakly_canonical(fs::path(plugin_dir), ec);
  fs::path full = fs::weakly_canonical(root / rel, ec);  // resolves symlinks of the existing prefix
  auto r = root.string(), f = full.string();
  if (f.compare(0, r.size(), r) != 0 || (f.size() > r.size() && f[r.size()] != '/'))
    return traversal();
  return (root / rel).string();
}

Result<python::PluginCode> LoadPluginCode(const PluginLocation& where,
                                          const std::string& filename) {
  python::PluginCode code;
  code.filename = filename;
  if (filename.rfind("gh:", 0) == 0) {
    std::string repo = where.plugin_repo;
    if (!repo.empty() && repo.back() != '/') repo += '/';
    auto body = Fetch(repo + filename.substr(3));
    if (!body.ok()) return body.status();
    code.source = std::move(body).value();
    code.version = static_cast<int64_t>(std::hash<std::string>{}(code.source));
    return code;
  }
  auto path = ResolveLocalPath(where.plugin_dir, filename);
  if (!path.ok()) return path.status();
  fs::path p(*path);
  code.path = fs::absolute(p).string();
  std::error_code ec;
  if (!fs::exists(p, ec))
    return Status::NotFound("Plugin error: reading plugin file: Plugin not found: " + p.string());
  if (fs::is_directory(p, ec)) {
    if (!fs::exists(p / "__init__.py", ec))
      return Status::InvalidArgument("Multi-file plugin directory must contain __init__.py: " +
                                     p.string());
    code.package_dir = p.parent_path().string();
    code.package = p.filename().string();
    // Any change to its .py files (an edit, an upload) gives the package a new version, and the
    // runtime imports it afresh.
    for (auto it = fs::recursive_directory_iterator(p, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file() && it->path().extension() == ".py")
        code.version = code.version * 31 + MtimeNanos(it->path()) +
                       static_cast<int64_t>(std::hash<std::string>{}(it->path().string())) +
                       static_cast<int64_t>(it->file_size(ec));
    return code;
  }
  auto text = ReadText(p);
  if (!text.ok()) return text.status();
  code.source = std::move(text).value();
  code.version = MtimeNanos(p) ^ static_cast<int64_t>(std::hash<std::string>{}(code.source));
  return code;
}

Result<python::PluginCode> CachedPluginCode::Get() {
  std::lock_guard lock(mu_);
  bool local_file = filename_.rfind("gh:", 0) != 0;
  struct stat st {};
  std::string path;
  if (local_file) {
    // The traversal check canonicalises the path (several syscalls); do it once.
    if (resolved_.empty()) {
      auto resolved = ResolveLocalPath(where_.plugin_dir, filename_);
      if (resolved.ok()) resolved_ = *resolved;
    }
    if (!resolved_.empty() && ::stat(resolved_.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      path = resolved_;
      int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
      if (valid_ && mtime == mtime_ && st.st_size == size_) return code_;
      mtime_ = mtime;
      size_ = st.st_size;
    }
  } else if (valid_) {
    return code_;  // gh: plugins are fetched once per trigger start
  }
  auto code = LoadPluginCode(where_, filename_);
  if (!code.ok()) {
    valid_ = false;
    return code.status();
  }
  code_ = std::move(code).value();
  valid_ = !path.empty() || !local_file;
  return code_;
}

}  // namespace riffle::plugin
