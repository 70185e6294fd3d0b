// CommandGetSqlInfo: what the server is and supports, as the Flight SQL specification lays the
// table out (info_name uint32, value dense_union<string_value, bool_value, bigint_value,
// int32_bitmask, string_list, int32_to_int32_list_map>). Built by hand: it is the one nested
// result Riffle makes itself.
#include <algorithm>
#include <cstring>

#include "flight/internal.h"

namespace riffle::flight {
namespace {

void NoRelease(ArrowArray* a) { a->release = nullptr; }

// One array and the buffers it points at (all owned here).
struct Node {
  std::vector<uint8_t> bytes[3];
  const void* buffers[3] = {nullptr, nullptr, nullptr};
  std::vector<ArrowArray*> children;
  ArrowArray array{};
  void Finish(int64_t length, int n_buffers) {
    for (int i = 0; i < 3; ++i) buffers[i] = bytes[i].empty() ? nullptr : bytes[i].data();
    array = ArrowArray{length,
                       0,
                       0,
                       n_buffers,
                       static_cast<int64_t>(children.size()),
                       buffers,
                       children.empty() ? nullptr : children.data(),
                       nullptr,
                       NoRelease,
                       nullptr};
  }
  template <typename T>
  void Put(int buffer, T value) {
    auto* p = reinterpret_cast<const uint8_t*>(&value);
    bytes[buffer].insert(bytes[buffer].end(), p, p + sizeof(T));
  }
};

struct Info {
  uint32_t id;
  int8_t type;  // 0 string, 1 bool, 2 bigint, 3 int32 bitmask
  std::string text;
  int64_t number = 0;
};

const std::vector<Info>& AllInfo() {
  static const std::vector<Info> info = {
      {0, 0, "Riffle"},         // FLIGHT_SQL_SERVER_NAME
      {1, 0, "3.10.0-riffle"},  // FLIGHT_SQL_SERVER_VERSION
      {2, 0, "1.3"},            // FLIGHT_SQL_SERVER_ARROW_VERSION (the IPC format)
      {3, 1, "", 1},            // FLIGHT_SQL_SERVER_READ_ONLY
      {4, 1, "", 1},            // FLIGHT_SQL_SERVER_SQL
      {5, 1, "", 0},            // FLIGHT_SQL_SERVER_SUBSTRAIT
      {8, 3, "", 0},            // FLIGHT_SQL_SERVER_TRANSACTION: none
      {9, 1, "", 0},            // FLIGHT_SQL_SERVER_CANCEL
      {500, 1, "", 0},          // SQL_DDL_CATALOG
      {501, 1, "", 0},          // SQL_DDL_SCHEMA
      {502, 1, "", 0},          // SQL_DDL_TABLE
      {503, 2, "", 1},          // SQL_IDENTIFIER_CASE: case-insensitive
      {504, 0, "\""},           // SQL_IDENTIFIER_QUOTE_CHAR
      {505, 2, "", 1},          // SQL_QUOTED_IDENTIFIER_CASE: case-insensitive
      {507, 2, "", 2},          // SQL_NULL_ORDERING: nulls sorted at the end
  };
  return info;
}

WireColumn Col(std::string name, std::string format, bool nullable,
               std::vector<WireColumn> children = {}) {
  return WireColumn{std::move(name), std::move(format), {}, nullable, std::move(children)};
}

class SqlInfoSource final : public ArrowSource {
 public:
  explicit SqlInfoSource(const std::vector<uint32_t>& wanted) {
    columns_ = {Col("info_name", "I", false),
                Col("value", "+ud:0,1,2,3,4,5", false,
                    {Col("string_value", "u", true), Col("bool_value", "b", true),
                     Col("bigint_value", "l", true), Col("int32_bitmask", "i", true),
                     Col("string_list", "+l", true, {Col("item", "u", true)}),
                     Col("int32_to_int32_list_map", "+m", true,
                         {Col("entries", "+s", false,
                              {Col("key", "i", false),
                               Col("value", "+l", true, {Col("item", "i", true)})})})})};
    std::vector<Info> rows;
    for (const auto& i : AllInfo())
      if (wanted.empty() || std::find(wanted.begin(), wanted.end(), i.id) != wanted.end())
        rows.push_back(i);
    int32_t counts[4] = {0, 0, 0, 0};
    strings_.Put<int32_t>(1, 0);
    for (const auto& r : rows) {
      names_.Put<uint32_t>(1, r.id);
      union_.Put<int8_t>(0, r.type);
      union_.Put<int32_t>(1, counts[r.type]++);
      switch (r.type) {
        case 0:
          strings_.bytes[2].insert(strings_.bytes[2].end(), r.text.begin(), r.text.end());
          strings_.Put<int32_t>(1, static_cast<int32_t>(strings_.bytes[2].size()));
          break;
        case 1: {
          size_t bit = static_cast<size_t>(counts[1] - 1);
          if (bools_.bytes[1].size() * 8 <= bit) bools_.bytes[1].push_back(0);
          if (r.number) bools_.bytes[1][bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
          break;
        }
        case 2:
          bigints_.Put<int64_t>(1, r.number);
          break;
        default:
          bitmasks_.Put<int32_t>(1, static_cast<int32_t>(r.number));
          break;
      }
    }
    // Empty lists and maps still carry their one offset.
    list_.Put<int32_t>(1, 0);
    list_item_.Put<int32_t>(1, 0);
    map_.Put<int32_t>(1, 0);
    map_value_.Put<int32_t>(1, 0);
    strings_.Finish(counts[0], 3);
    bools_.Finish(counts[1], 2);
    bigints_.Finish(counts[2], 2);
    bitmasks_.Finish(counts[3], 2);
    list_item_.Finish(0, 3);
    list_.children = {&list_item_.array};
    list_.Finish(0, 2);
    map_key_.Finish(0, 2);
    map_value_item_.Finish(0, 2);
    map_value_.children = {&map_value_item_.array};
    map_value_.Finish(0, 2);
    map_entries_.children = {&map_key_.array, &map_value_.array};
    map_entries_.Finish(0, 1);
    map_.children = {&map_entries_.array};
    map_.Finish(0, 2);
    union_.children = {&strings_.array,  &bools_.array, &bigints_.array,
                       &bitmasks_.array, &list_.array,  &map_.array};
    union_.Finish(static_cast<int64_t>(rows.size()), 2);
    names_.Finish(static_cast<int64_t>(rows.size()), 2);
    top_.children = {&names_.array, &union_.array};
    top_.Finish(static_cast<int64_t>(rows.size()), 1);
  }

  const std::vector<WireColumn>& columns() const override { return columns_; }
  Result<bool> Next(duck::OwnedArrowArray* out) override {
    if (sent_) return false;
    sent_ = true;
    out->Reset();
    *out->get() = top_.array;
    return true;
  }

 private:
  std::vector<WireColumn> columns_;
  Node names_, union_, strings_, bools_, bigints_, bitmasks_, list_, list_item_, map_, map_entries_,
      map_key_, map_value_, map_value_item_, top_;
  bool sent_ = false;
};

}  // namespace

std::unique_ptr<ArrowSource> SqlInfo(const std::vector<uint32_t>& wanted) {
  return std::make_unique<SqlInfoSource>(wanted);
}

}  // namespace riffle::flight
