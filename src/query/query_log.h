// system.queries: the most recent queries (a bounded ring, like InfluxDB's --query-log-size).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "query/query.h"

namespace riffle::query {

class QueryLog {
 public:
  explicit QueryLog(size_t capacity = 1000) : capacity_(capacity) {}

  // A query starts (listed as running until End), and ends: success or failure, and whether it
  // was cancelled (its client left, or a limit stopped it).
  uint64_t Begin(const std::string& db, const std::string& text, int64_t issue_time_ns);
  void End(uint64_t id, int64_t duration_ns, bool success, bool cancelled);
  // The entries of one database: finished ones oldest first, then the running ones.
  VirtualTable Table(const std::string& db) const;

 private:
  struct Entry {
    uint64_t id;
    std::string db, text;
    int64_t issue_time_ns, duration_ns;
    bool success, cancelled;
  };
  size_t capacity_;
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  std::deque<Entry> entries_;
  std::map<uint64_t, Entry> running_;
};

}  // namespace riffle::query
