// influxdb3: the Riffle server and its command-line client in one binary.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app/serve.h"
#include "cli/cli.h"

int main(int argc, char** argv) {
  CLI::App app{"Riffle: an InfluxDB 3 compatible time-series database with a Python processing engine",
               "influxdb3"};
  app.require_subcommand(1);
  std::function<int()> action;
  riffle::app::RegisterServeCommand(app, &action);
  riffle::cli::RegisterClientCommands(app, &action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "Error: " << e.what() << "\n";
    std::cerr << "Run with --help for usage.\n";
    return 2;
  }
  return action ? action() : 2;
}
