// influxdb3: the Riffle server and its command-line client in one binary.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "app/serve.h"
#include "cli/cli.h"
#include "worker/worker.h"

#ifdef RIFFLE_WITH_JEMALLOC
// jemalloc's options (MALLOC_CONF in the environment still overrides them). Pages freed stay
// with the process for about a second, then a background thread gives them back: long enough
// for the next request body or WAL file to reuse them without faulting them in again, short
// enough that an idle server's resident memory falls back (bench/README.md, "jemalloc").
extern "C" {
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
#endif

namespace {

// `influxdb3` alone (InfluxDB 3's quick start): `serve` with a node id made from the host name
// (INFLUXDB3_NODE_IDENTIFIER_PREFIX still wins), the file store under ~/.influxdb3.
std::vector<std::string> QuickStartArguments() {
  std::vector<std::string> args = {"influxdb3", "serve"};
  const char* from_env = std::getenv("INFLUXDB3_NODE_IDENTIFIER_PREFIX");
  if (from_env && *from_env) return args;
  char host[256] = {0};
  std::string node = ::gethostname(host, sizeof host - 1) == 0 && host[0] ? std::string(host) + "-node" : "primary-node";
  std::cerr << "Using auto-generated node id: " << node
            << ". For production deployments, explicitly set --node-id\n";
  args.insert(args.end(), {"--node-id", node});
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  // A plugin worker process the server started (serve --plugin-isolation process).
  if (argc >= 2 && std::string(argv[1]) == riffle::worker::kWorkerCommand)
    return riffle::worker::RunWorkerProcess(argc, argv);
  std::vector<std::string> quick_start;
  std::vector<char*> quick_argv;
  if (argc == 1) {
    quick_start = QuickStartArguments();
    for (auto& a : quick_start) quick_argv.push_back(a.data());
    argc = static_cast<int>(quick_argv.size());
    argv = quick_argv.data();
  }
  CLI::App app{"Riffle: an InfluxDB 3 compatible time-series database with a Python processing engine",
               "influxdb3"};
  app.require_subcommand(1);
  std::function<int()> action;
  riffle::app::RegisterServeCommand(app, &action);
  riffle::cli::RegisterClientCommands(app, &action);
  riffle::app::RegisterRestoreCommand(app, &action);
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
