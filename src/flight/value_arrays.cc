#include "flight/value_arrays.h"

#include <cstring>

namespace riffle::flight {
namespace {
void NoRelease(ArrowArray* a) { a->release = nullptr; }

std::string Text(const query::Value& v) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* u = std::get_if<uint64_t>(&v)) return std::to_string(*u);
  if (auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  if (auto* t = std::get_if<query::Timestamp>(&v)) return std::to_string(t->ns);
  return "";
}
}  // namespace

const char* FormatOfValue(const query::Value& v) {
  switch (v.index()) {
    case 1:
      return "b";
    case 2:
      return "l";
    case 3:
      return "L";
    case 4:
      return "g";
    case 5:
      return "u";
    case 6:
      return "tsn:";
    default:
      return nullptr;
  }
}

ValueArrays::ValueArrays(std::vector<std::string> formats) : formats_(std::move(formats)) {
  columns_.resize(formats_.size());
}

void ValueArrays::Add(Column& c, const std::string& format, const query::Value& v) {
  size_t row = rows_;
  if (c.validity.size() * 8 <= row) c.validity.push_back(0);
  const char* own = FormatOfValue(v);
  bool is_string = format == "u" || format == "z";
  bool valid = own && (format == own || is_string || (format == "i" && v.index() == 2));
  if (valid)
    c.validity[row / 8] |= static_cast<uint8_t>(1u << (row % 8));
  else
    ++c.nulls;
  auto put = [&](const auto& value) {
    c.data.append(reinterpret_cast<const char*>(&value), sizeof(value));
  };
  if (is_string) {
    if (valid) c.data += Text(v);
    c.offsets.push_back(static_cast<int32_t>(c.data.size()));
  } else if (format == "b") {
    if (c.data.size() * 8 <= row) c.data.push_back(0);
    if (valid && std::get<bool>(v))
      c.data[row / 8] = static_cast<char>(c.data[row / 8] | (1 << (row % 8)));
  } else if (format == "i") {
    put(valid ? static_cast<int32_t>(std::get<int64_t>(v)) : int32_t{0});
  } else if (format == "l") {
    put(valid ? std::get<int64_t>(v) : int64_t{0});
  } else if (format == "L") {
    put(valid ? std::get<uint64_t>(v) : uint64_t{0});
  } else if (format == "g") {
    put(valid ? std::get<double>(v) : 0.0);
  } else if (format == "tsn:") {
    put(valid ? std::get<query::Timestamp>(v).ns : int64_t{0});
  }
}

void ValueArrays::AddRow(const std::vector<query::Value>& row) {
  for (size_t c = 0; c < columns_.size(); ++c)
    Add(columns_[c], formats_[c], c < row.size() ? row[c] : query::Value{});
  ++rows_;
}

const ArrowArray& ValueArrays::Array() {
  children_.clear();
  for (size_t i = 0; i < columns_.size(); ++i) {
    Column& c = columns_[i];
    bool is_string = formats_[i] == "u" || formats_[i] == "z";
    c.buffers[0] = c.validity.data();
    c.buffers[1] = is_string ? static_cast<const void*>(c.offsets.data()) : c.data.data();
    c.buffers[2] = is_string ? c.data.data() : nullptr;
    c.array = ArrowArray{static_cast<int64_t>(rows_),
                         c.nulls,
                         0,
                         is_string ? 3 : 2,
                         0,
                         c.buffers,
                         nullptr,
                         nullptr,
                         NoRelease,
                         nullptr};
    children_.push_back(&c.array);
  }
  struct_ = ArrowArray{static_cast<int64_t>(rows_),
                       0,
                       0,
                       1,
                       static_cast<int64_t>(children_.size()),
                       struct_buffers_,
                       children_.data(),
                       nullptr,
                       NoRelease,
                       nullptr};
  return struct_;
}

void ValueArrays::Clear() {
  for (auto& c : columns_) {
    c.validity.clear();
    c.data.clear();
    c.offsets.assign(1, 0);
    c.nulls = 0;
  }
  rows_ = 0;
}

}  // namespace riffle::flight
