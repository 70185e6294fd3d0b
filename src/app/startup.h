// What the server answers before every component is ready: it listens from the start, so an
// operator sees why it is not serving yet instead of a refused connection.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>

#include "http/http.h"
#include "wal/wal.h"

namespace riffle::app {

// The phase during which /health reports the WAL files left.
constexpr const char* kReplayingPhase = "replaying the WAL";

struct StartupState {
  std::atomic<const char*> phase{"starting"};  // what it is doing now, for /health and the log
  wal::Wal::ReplayProgress replay;  // filled by Wal::Replay
};

// /health, /api/v1/health and /ping: 503 {"status": "starting" | "replaying", "phase": …,
// "wal_files_left": N, "wal_files_total": T}. Everything else, writes included: 503 with
// {"error": "the server is starting (…); retry shortly"} and Retry-After: 1. Nothing is accepted
// that could be lost: writes are refused, not queued.
http::Response StartingResponse(const http::Request& req, const StartupState& state);

}  // namespace riffle::app
