#include "app/startup.h"

#include <nlohmann/json.hpp>

namespace riffle::app {

http::Response StartingResponse(const http::Request& req, const StartupState& state) {
  size_t total = state.replay.files_total.load(), done = state.replay.files_done.load();
  std::string phase = state.phase.load();
  bool replaying = phase == kReplayingPhase;
  const std::string& p = req.path;
  http::Response r;
  if (p == "/health" || p == "/api/v1/health" || p == "/ping") {
    nlohmann::json body = {{"status", replaying ? "replaying" : "starting"}, {"phase", phase}};
    if (replaying) {
      body["wal_files_left"] = total - done;
      body["wal_files_total"] = total;
    }
    r = http::Response::Json(503, body.dump());
  } else {
    std::string why = phase;
    if (replaying)
      why += ": " + std::to_string(total - done) + " of " + std::to_string(total) + " files left";
    r = http::Response::Error(503, "the server is starting (" + why +
                                       "); nothing was accepted, retry shortly");
  }
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

}  // namespace riffle::app
