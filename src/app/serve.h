// `influxdb3 serve`: builds every component from flags and runs the server.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace riffle::app {

void RegisterServeCommand(CLI::App& app, std::function<int()>* action);

}  // namespace riffle::app
