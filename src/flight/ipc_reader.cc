#include "flight/ipc_reader.h"

#include <Message_generated.h>
#include <Schema_generated.h>

#include <cstring>

namespace riffle::flight {
namespace {
namespace fb = riffle::arrowfb;

const fb::Message* Parse(const std::string& header) {
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(header.data()), header.size());
  if (!fb::VerifyMessageBuffer(verifier)) return nullptr;
  return fb::GetMessage(header.data());
}

// Buffers of one field in the batch's pre-order buffer list.
int BufferCount(fb::Type t) {
  switch (t) {
    case fb::Type::Null:
      return 0;
    case fb::Type::Utf8:
    case fb::Type::Binary:
      return 3;
    default:
      return 2;
  }
}
}  // namespace

Result<std::vector<std::pair<std::string, query::Value>>> ReadFirstRow(
    const std::vector<IpcInput>& messages) {
  const fb::Schema* schema = nullptr;
  for (const auto& m : messages) {
    const fb::Message* msg = m.header.empty() ? nullptr : Parse(m.header);
    if (!msg) {
      if (m.header.empty()) continue;
      return Status::InvalidArgument("parameters: a FlightData header is not an Arrow IPC message");
    }
    if (msg->header_type() == fb::MessageHeader::Schema) {
      schema = msg->header_as_Schema();
      continue;
    }
    if (msg->header_type() != fb::MessageHeader::RecordBatch) continue;
    if (!schema || !schema->fields())
      return Status::InvalidArgument("parameters: a RecordBatch came before its Schema");
    const fb::RecordBatch* batch = msg->header_as_RecordBatch();
    std::vector<std::pair<std::string, query::Value>> out;
    if (!batch || batch->length() < 1) return out;
    const auto* buffers = batch->buffers();
    size_t next = 0;
    auto buffer = [&](size_t i, size_t need) -> const char* {
      if (!buffers || i >= buffers->size()) return nullptr;
      const fb::Buffer* b = buffers->Get(static_cast<flatbuffers::uoffset_t>(i));
      if (b->offset() < 0 || b->length() < static_cast<int64_t>(need) ||
          static_cast<size_t>(b->offset() + b->length()) > m.body.size())
        return nullptr;
      return m.body.data() + b->offset();
    };
    for (const fb::Field* field : *schema->fields()) {
      std::string name = field->name() ? field->name()->str() : "";
      if (!name.empty() && name[0] == '$') name.erase(0, 1);
      if (field->dictionary())
        return Status::InvalidArgument(
            "parameters: field '" + name +
            "' is dictionary-encoded: send parameter values as plain Utf8");
      fb::Type type = field->type_type();
      size_t first = next;
      next += BufferCount(type);
      const fb::Buffer* vb = buffers && first < buffers->size()
                                 ? buffers->Get(static_cast<flatbuffers::uoffset_t>(first))
                                 : nullptr;
      const char* validity = vb && vb->length() > 0 ? buffer(first, 1) : nullptr;
      if (validity && !(validity[0] & 1)) {
        out.emplace_back(name, std::monostate{});
        continue;
      }
      const std::string bad = "parameters: field '" + name + "' has a missing or short buffer";
      switch (type) {
        case fb::Type::Int: {
          const fb::Int* t = field->type_as_Int();
          int bytes = t->bit_width() / 8;
          const char* d = buffer(first + 1, static_cast<size_t>(bytes));
          if (!d) return Status::InvalidArgument(bad);
          int64_t v = 0;
          uint64_t u = 0;
          switch (bytes) {
            case 1:
              v = t->is_signed() ? int8_t(d[0]) : uint8_t(d[0]);
              break;
            case 2: {
              int16_t x;
              std::memcpy(&x, d, 2);
              v = t->is_signed() ? x : uint16_t(x);
              break;
            }
            case 4: {
              int32_t x;
              std::memcpy(&x, d, 4);
              v = t->is_signed() ? x : uint32_t(x);
              break;
            }
            default:
              std::memcpy(&u, d, 8);
              v = static_cast<int64_t>(u);
          }
          if (bytes == 8 && !t->is_signed())
            out.emplace_back(name, u);
          else
            out.emplace_back(name, v);
          break;
        }
        case fb::Type::FloatingPoint: {
          bool single = field->type_as_FloatingPoint()->precision() == fb::Precision::SINGLE;
          const char* d = buffer(first + 1, single ? 4 : 8);
          if (!d) return Status::InvalidArgument(bad);
          if (single) {
            float f;
            std::memcpy(&f, d, 4);
            out.emplace_back(name, static_cast<double>(f));
          } else {
            double x;
            std::memcpy(&x, d, 8);
            out.emplace_back(name, x);
          }
          break;
        }
        case fb::Type::Bool: {
          const char* d = buffer(first + 1, 1);
          if (!d) return Status::InvalidArgument(bad);
          out.emplace_back(name, static_cast<bool>(d[0] & 1));
          break;
        }
        case fb::Type::Timestamp: {
          const char* d = buffer(first + 1, 8);
          if (!d) return Status::InvalidArgument(bad);
          int64_t x;
          std::memcpy(&x, d, 8);
          static const int64_t scale[] = {1'000'000'000, 1'000'000, 1'000, 1};
          out.emplace_back(
              name,
              query::Timestamp{x * scale[static_cast<int>(field->type_as_Timestamp()->unit())]});
          break;
        }
        case fb::Type::Utf8:
        case fb::Type::Binary: {
          const char* o = buffer(first + 1, 8);
          if (!o) return Status::InvalidArgument(bad);
          int32_t from, to;
          std::memcpy(&from, o, 4);
          std::memcpy(&to, o + 4, 4);
          const char* d = to > from ? buffer(first + 2, static_cast<size_t>(to)) : "";
          if (!d || from < 0 || to < from) return Status::InvalidArgument(bad);
          out.emplace_back(name, std::string(d + from, static_cast<size_t>(to - from)));
          break;
        }
        case fb::Type::Null:
          out.emplace_back(name, std::monostate{});
          break;
        default:
          return Status::InvalidArgument(
              "parameters: field '" + name +
              "' has a type Riffle does not bind (expected integer, float, "
              "boolean, string or timestamp)");
      }
    }
    return out;
  }
  return Status::InvalidArgument(
      "parameters: expected an Arrow IPC Schema and a RecordBatch of one row");
}

}  // namespace riffle::flight
