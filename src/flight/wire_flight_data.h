// Internal to flight/: DoGet's FlightData written without protobuf. The generated message would
// copy each ~200 KiB body into gRPC's slices; this type hands the body to gRPC as a slice it
// owns, and frames the two fields (data_header = 2, data_body = 1000) by hand.
#pragma once

#include <grpcpp/impl/serialization_traits.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <string>

namespace riffle::flight {

struct WireFlightData {
  std::string header;        // the IPC Message flatbuffer
  mutable std::string body;  // its buffers; taken (moved out) when gRPC serializes the message
};

}  // namespace riffle::flight

namespace grpc {

template <>
class SerializationTraits<riffle::flight::WireFlightData, void> {
 public:
  static Status Serialize(const riffle::flight::WireFlightData& m, ByteBuffer* buffer,
                          bool* own_buffer) {
    std::string framing;
    framing.reserve(m.header.size() + 16);
    framing += '\x12';  // field 2, length-delimited
    Varint(m.header.size(), &framing);
    framing += m.header;
    if (m.body.empty()) {
      Slice one(framing);
      *buffer = ByteBuffer(&one, 1);
    } else {
      framing += "\xC2\x3E";  // field 1000, length-delimited
      Varint(m.body.size(), &framing);
      auto* body = new std::string(std::move(m.body));
      Slice slices[2] = {Slice(framing),
                         Slice(
                             body->data(), body->size(),
                             [](void* p) { delete static_cast<std::string*>(p); }, body)};
      *buffer = ByteBuffer(slices, 2);
    }
    *own_buffer = true;
    return Status::OK;
  }
  static Status Deserialize(ByteBuffer*, riffle::flight::WireFlightData*) {
    return Status(StatusCode::INTERNAL, "WireFlightData is only sent");
  }

 private:
  static void Varint(size_t v, std::string* out) {
    while (v >= 0x80) {
      *out += static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    *out += static_cast<char>(v);
  }
};

}  // namespace grpc
