// system.queries: the most recent queries (a bounded ring, like InfluxDB's --query-log-size).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "query/query.h"

namespace riffle::query {

class QueryLog {
 public:
  explicit QueryLog(size_t capacity = 1000) : capacity_(capacity) {}

  // Records a finished query (success or failure) that started at `issue_time_ns`.
  void Record(const std::string& db, const std::string& text, int64_t issue_time_ns, int64_t duration_ns, bool success);
  // The entries of one database, oldest first.
  VirtualTable Table(const std::string& db) const;

 private:
  struct Entry {
    uint64_t id;
    std::string db, text;
    int64_t issue_time_ns, duration_ns;
    bool success;
  };
  size_t capacity_;
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  std::deque<Entry> entries_;
};

}  // namespace riffle::query
