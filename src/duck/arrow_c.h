// The Arrow C data interface (https://arrow.apache.org/docs/format/CDataInterface.html): the
// ABI-stable structs through which DuckDB exports result chunks as Arrow arrays. Declared here
// because duckdb.h only forward-declares them and Arrow C++ is not packaged for Debian 12.
#pragma once

#include <cstdint>

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
  const char* format;
  const char* name;
  const char* metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema** children;
  struct ArrowSchema* dictionary;
  void (*release)(struct ArrowSchema*);
  void* private_data;
};

struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void** buffers;
  struct ArrowArray** children;
  struct ArrowArray* dictionary;
  void (*release)(struct ArrowArray*);
  void* private_data;
};

#endif  // ARROW_C_DATA_INTERFACE

namespace riffle::duck {

// Owns an exported schema or array and releases it (the producer's release callback) once.
template <typename T>
class ArrowOwned {
 public:
  ArrowOwned() { value_.release = nullptr; }
  ~ArrowOwned() { Reset(); }
  ArrowOwned(const ArrowOwned&) = delete;
  ArrowOwned& operator=(const ArrowOwned&) = delete;
  T* get() { return &value_; }
  const T& operator*() const { return value_; }
  const T* operator->() const { return &value_; }
  void Reset() {
    if (value_.release) value_.release(&value_);
    value_.release = nullptr;
  }

 private:
  T value_{};
};
using OwnedArrowSchema = ArrowOwned<ArrowSchema>;
using OwnedArrowArray = ArrowOwned<ArrowArray>;

}  // namespace riffle::duck
