// influxdb3 create restore: copies a backup back into a data dir that holds no data yet, before
// `serve` starts on it. (InfluxDB 3 Enterprise restores in place on a running cluster and then
// asks for a restart; restoring into an empty store first is the same result without a window
// in which the running server and the restored files disagree.)
#include <iostream>
#include <memory>

#include "app/serve.h"
#include "backup/backup.h"
#include "objstore/object_store.h"

namespace riffle::app {

namespace {
struct RestoreArgs {
  std::string backup, data_dir, from_data_dir, node_id;
};
}  // namespace

void RegisterRestoreCommand(CLI::App& app, std::function<int()>* action) {
  auto a = std::make_shared<RestoreArgs>();
  CLI::App* restore = app.get_subcommand("create")->add_subcommand(
      "restore",
      "Restore a backup into an empty data dir (file object store), then start serve on it");
  restore->add_option("--backup", a->backup, "the backup to restore (influxdb3 show backups)")
      ->required();
  restore
      ->add_option("--data-dir", a->data_dir,
                   "the data dir to restore into; it must hold no data yet")
      ->required()
      ->envname("INFLUXDB3_DB_DIR");
  restore->add_option(
      "--from-data-dir", a->from_data_dir,
      "the data dir that holds the backup (default: --data-dir, when the backup was "
      "copied there)");
  restore->add_option("--node-id", a->node_id, "the node whose backup it is")
      ->required()
      ->envname("INFLUXDB3_NODE_IDENTIFIER_PREFIX");
  restore->callback([a, action] {
    *action = [a] {
      auto from = objstore::NewFileStore(a->from_data_dir.empty() ? a->data_dir : a->from_data_dir);
      auto to = objstore::NewFileStore(a->data_dir);
      auto restored = backup::Restore(from.get(), to.get(), a->node_id, a->node_id, a->backup);
      if (!restored.ok()) {
        std::cerr << "Error: " << restored.status().message() << "\n";
        return 1;
      }
      int64_t bytes = 0;
      for (const auto& o : restored->objects) bytes += o.size;
      std::cout << "Restored backup \"" << a->backup << "\" into " << a->data_dir << ": "
                << restored->objects.size() << " objects, " << bytes << " bytes, WAL up to file "
                << restored->wal_sequence << ". Start it with: influxdb3 serve --node-id "
                << a->node_id << " --object-store file --data-dir " << a->data_dir << "\n";
      return 0;
    };
  });
}

}  // namespace riffle::app
