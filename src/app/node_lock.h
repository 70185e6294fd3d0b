// One serve process per node and data directory: a second `influxdb3 serve` with the same
// --node-id on the same --data-dir would append to the same WAL, snapshot over the same files and
// delete the other's WAL files, losing acknowledged writes. The first holds an exclusive lock
// (flock) on <data-dir>/.tmp/<node-id>.lock for as long as it runs; the kernel releases it when
// the process ends, kill -9 included, so a restart never finds a stale lock.
#pragma once

#include <string>

#include "common/status.h"

namespace riffle::app {

// Takes the lock of node `node_id` in directory `dir` (which exists) and keeps it until
// the process exits; an error naming the process that holds it when another does. Where the
// lock file cannot be created (a read-only directory) it warns and lets the server run.
Status LockNode(const std::string& dir, const std::string& node_id);

}  // namespace riffle::app
