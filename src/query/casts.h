// Casts DataFusion has and DuckDB lacks, registered as DuckDB cast functions (internal to the
// query component).
#pragma once

#include <duckdb.h>

#include "common/status.h"

namespace riffle::query {

// CAST(<timestamp> AS BIGINT) — also `::bigint` and arrow_cast(x, 'Int64') — gives nanoseconds
// since the epoch, as InfluxDB 3 (DataFusion) does; DuckDB has no timestamp → integer cast.
Status RegisterCompatCasts(duckdb_connection conn);

}  // namespace riffle::query
