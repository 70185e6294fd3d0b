// Test hooks: RIFFLE_FAULT=<point>[:<argument>] makes one point of the server fail on purpose,
// so that the end-to-end suite can prove what a crash, a full disk or a refused append does to
// acknowledged data (docs/REFERENCE.md, "Faults"). The variable is read once.
#pragma once

#include <string>
#include <string_view>

namespace riffle::fault {

// Whether RIFFLE_FAULT names `point`, alone or as `point:argument`; then `*argument` (if given)
// is the text after the colon ("" without one).
bool Injected(std::string_view point, std::string* argument = nullptr);

}  // namespace riffle::fault
