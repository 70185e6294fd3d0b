#include "common/checksummed.h"

#include <cstdio>
#include <cstdlib>

#include "common/crc32.h"

namespace riffle {
namespace {

std::string HeaderPrefix(std::string_view magic) { return std::string(magic) + " crc32="; }

unsigned long Crc(std::string_view data) { return Crc32(data); }

}  // namespace

std::string SealWithChecksum(std::string_view magic, std::string_view body) {
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08lx\n", Crc(body));
  return HeaderPrefix(magic) + crc + std::string(body);
}

Result<std::string> OpenChecksummed(std::string_view magic, const std::string& contents, std::string_view what) {
  std::string prefix = HeaderPrefix(magic);
  size_t nl = contents.find('\n');
  if (nl == std::string::npos || contents.compare(0, prefix.size(), prefix) != 0)
    return Status::IOError(std::string(what) + " has no valid header; expected '" + prefix + "...'");
  std::string body = contents.substr(nl + 1);
  std::string digits = contents.substr(prefix.size(), nl - prefix.size());
  char* end = nullptr;
  unsigned long expected = std::strtoul(digits.c_str(), &end, 16);
  if (digits.empty() || *end != '\0' || expected != Crc(body))
    return Status::IOError(std::string(what) + " checksum mismatch");
  return body;
}

}  // namespace riffle
