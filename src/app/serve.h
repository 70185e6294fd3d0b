// `influxdb3 serve`: builds every component from flags and runs the server.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace riffle::app {

void RegisterServeCommand(CLI::App& app, std::function<int()>* action);
// `create restore` (after the client commands, which add `create`).
void RegisterRestoreCommand(CLI::App& app, std::function<int()>* action);

}  // namespace riffle::app
