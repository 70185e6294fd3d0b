// The `influxdb3` client subcommands (write, query, create, show, delete, ...), which talk
// to a running server over HTTP.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace riffle::cli {

// Registers every client subcommand on `app`. The chosen command's action is stored in
// `*action`; running it returns the process exit code.
void RegisterClientCommands(CLI::App& app, std::function<int()>* action);

}  // namespace riffle::cli
