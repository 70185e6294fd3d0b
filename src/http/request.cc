#include <zlib.h>

#include <nlohmann/json.hpp>

#include "http/http.h"

namespace riffle::http {

const std::string* Request::Param(const std::string& name) const {
  const std::string* found = nullptr;
  for (const auto& [k, v] : query)
    if (k == name) found = &v;
  return found;
}

Result<bool> Request::BoolParam(const std::string& name, bool fallback) const {
  const std::string* v = Param(name);
  if (!v) return fallback;
  if (*v == "true" || v->empty()) return true;
  if (*v == "false") return false;
  return Status::InvalidArgument("invalid value '" + *v + "' for query parameter '" + name +
                                 "': expected true or false");
}

std::string Request::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

Response Response::Json(int status, std::string body) {
  return Response{status, "application/json", std::move(body), {}};
}

Response Response::Error(int status, const std::string& message) {
  nlohmann::json j = {{"error", message}};
  return Json(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Response Response::Text(int status, std::string body) {
  return Response{status, "text/plain; charset=utf-8", std::move(body), {}};
}

Response Response::Empty(int status) { return Response{status, "", "", {}}; }

std::string UrlDecode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) out.emplace_back(UrlDecode(part), "");
      else out.emplace_back(UrlDecode(part.substr(0, eq)), UrlDecode(part.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

Status GunzipInto(std::string_view in, size_t limit, std::string* out) {
  z_stream zs{};
  // 16+MAX_WBITS: gzip framing; multi-member streams are handled by resetting below.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Status::Internal("cannot initialise gzip decoder");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out->clear();
  char buf[1 << 16];
  Status result;
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    int rc = inflate(&zs, Z_NO_FLUSH);
    out->append(buf, sizeof buf - zs.avail_out);
    if (out->size() > limit) {
      result = Status::TooLarge("max request size (" + std::to_string(limit) + " bytes) exceeded");
      break;
    }
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // next gzip member
      continue;
    }
    if (rc != Z_OK) {
      result = Status::InvalidArgument(std::string("invalid gzip request body: ") + (zs.msg ? zs.msg : "corrupt data"));
      break;
    }
    if (zs.avail_in == 0 && zs.avail_out != 0) {
      result = Status::InvalidArgument("invalid gzip request body: unexpected end of stream");
      break;
    }
  }
  inflateEnd(&zs);
  return result;
}

}  // namespace riffle::http
