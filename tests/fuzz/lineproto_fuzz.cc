// libFuzzer target: the parser must never crash, and every view it returns must point into
// the input or the batch's own arena.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "lineproto/line_protocol.h"

namespace {

bool Inside(std::string_view outer, std::string_view inner) {
  return inner.empty() || (inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

bool Owned(const riffle::lineproto::ParsedBatch& b, std::string_view input, std::string_view v) {
  if (Inside(input, v)) return true;
  for (const auto& s : b.arena)
    if (Inside(s, v)) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto batch = riffle::lineproto::Parse(input);
  for (const auto& line : batch.lines) {
    if (!Owned(batch, input, line.measurement) || !Inside(input, line.raw)) std::abort();
    if (line.field_count == 0 || line.measurement.empty()) std::abort();
    if (line.tag_begin + line.tag_count > batch.tags.size()) std::abort();
    if (line.field_begin + line.field_count > batch.fields.size()) std::abort();
    for (uint32_t i = 0; i < line.tag_count; ++i) {
      const auto& t = batch.tags_of(line)[i];
      if (!Owned(batch, input, t.key) || !Owned(batch, input, t.value)) std::abort();
    }
    for (uint32_t i = 0; i < line.field_count; ++i) {
      const auto& f = batch.fields_of(line)[i];
      if (!Owned(batch, input, f.key)) std::abort();
      if (f.type == riffle::lineproto::FieldType::kString && !Owned(batch, input, f.s))
        std::abort();
    }
  }
  for (const auto& e : batch.errors)
    if (e.original_line.size() > 20) std::abort();
  return 0;
}
