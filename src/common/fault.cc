#include "common/fault.h"

#include <cstdlib>

namespace riffle::fault {
namespace {

struct Fault {
  std::string point, argument;
};

const Fault& Configured() {
  static const Fault fault = [] {
    const char* v = std::getenv("RIFFLE_FAULT");
    std::string text = v ? v : "";
    size_t colon = text.find(':');
    if (colon == std::string::npos) return Fault{text, ""};
    return Fault{text.substr(0, colon), text.substr(colon + 1)};
  }();
  return fault;
}

}  // namespace

bool Injected(std::string_view point, std::string* argument) {
  const Fault& f = Configured();
  if (f.point.empty() || f.point != point) return false;
  if (argument) *argument = f.argument;
  return true;
}

}  // namespace riffle::fault
