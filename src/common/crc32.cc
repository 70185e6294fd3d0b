#include "common/crc32.h"

#include <libdeflate.h>

namespace riffle {

uint32_t Crc32(std::string_view data) { return libdeflate_crc32(0, data.data(), data.size()); }

}  // namespace riffle
