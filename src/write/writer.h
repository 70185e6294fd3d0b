// The write path: parse → validate against the catalog (new columns committed first) →
// queue in the WAL → acknowledge after the flush made it durable and queryable.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "lineproto/line_protocol.h"
#include "wal/wal.h"

namespace riffle::write {

struct WriteRequest {
  std::string database;
  std::string body;
  lineproto::Precision precision = lineproto::Precision::kAuto;
  bool accept_partial = true;
  bool no_sync = false;
};

struct WriteOutcome {
  Status status;                             // OK, or the reason nothing/part was written
  std::vector<lineproto::LineError> errors;  // per-line problems (partial or rejected)
  size_t lines_written = 0;
  bool partial = false;  // some lines written, some rejected
};

class Writer {
 public:
  Writer(catalog::Catalog* catalog, wal::Wal* wal) : catalog_(catalog), wal_(wal) {}

  // `done` runs exactly once, possibly on the WAL flush thread.
  void Write(WriteRequest request, std::function<void(WriteOutcome)> done);

  // Parses and validates only (no catalog change, no WAL), for plugin dry runs: returns the
  // per-line errors that a real write of `lp` to `database` would report.
  std::vector<lineproto::LineError> Check(const std::string& database, const std::string& lp) const;

  // A node without the ingest mode answers every write with 403 and this reason.
  void RefuseWrites(std::string reason) { refusal_ = std::move(reason); }

 private:
  std::string refusal_;
  catalog::Catalog* catalog_;
  wal::Wal* wal_;
};

}  // namespace riffle::write
