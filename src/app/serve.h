// `influxdb3 serve`: builds every component from flags and runs the server.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>

namespace riffle::app {

void RegisterServeCommand(CLI::App& app, std::function<int()>* action);
struct ServerConfig;
// InfluxDB 3's `serve` flags that Riffle maps or accepts without effect (influxdb3_flags.cc).
// `app` takes InfluxDB 3's global flags (given before `serve`).
void RegisterInfluxdb3Flags(CLI::App& app, CLI::App& serve,
                            const std::shared_ptr<ServerConfig>& cfg);
// `create restore` (after the client commands, which add `create`).
void RegisterRestoreCommand(CLI::App& app, std::function<int()>* action);

}  // namespace riffle::app
