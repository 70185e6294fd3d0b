// Catalog (de)serialisation: JSON with a CRC32 header line, one file per version.
#pragma once

#include <string>

#include "catalog/catalog.h"

namespace riffle::catalog {

std::string SerializeCatalog(const CatalogState& state);
Result<CatalogState> DeserializeCatalog(const std::string& file_contents);

}  // namespace riffle::catalog
