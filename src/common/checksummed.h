// Small files of the object store (catalog versions, snapshot manifests, tokens) are stored as
// one header line "<magic> crc32=<8 hex digits>\n" followed by the body, so a torn or damaged
// file is detected instead of parsed.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace riffle {

std::string SealWithChecksum(std::string_view magic, std::string_view body);
// The body of a sealed file; IOError naming `what` when the header or the checksum is wrong.
Result<std::string> OpenChecksummed(std::string_view magic, const std::string& contents, std::string_view what);

}  // namespace riffle
