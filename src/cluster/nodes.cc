// The cluster's node registry: {cluster}/nodes/{node}.json, written by each node at start.
#include <nlohmann/json.hpp>

#include "cluster/cluster.h"
#include "common/clock.h"
#include "common/log.h"

namespace riffle::cluster {

using nlohmann::json;

Status RegisterNode(objstore::ObjectStore* store, const std::string& cluster_id,
                    const NodeInfo& node) {
  json j = {{"node_id", node.node_id},
            {"modes", std::vector<std::string>(node.modes.begin(), node.modes.end())},
            {"registered_ns", node.registered_ns ? node.registered_ns : NowNanos()},
            {"heartbeat_ns", node.heartbeat_ns}};
  return store->Put(cluster_id + "/nodes/" + node.node_id + ".json", j.dump());
}

Result<std::vector<NodeInfo>> ListNodes(objstore::ObjectStore* store,
                                        const std::string& cluster_id) {
  auto keys = store->List(cluster_id + "/nodes/");
  if (!keys.ok()) return keys.status();
  std::vector<NodeInfo> out;
  for (const auto& key : *keys) {
    auto contents = store->Get(key);
    if (!contents.ok()) continue;
    try {
      json j = json::parse(*contents);
      NodeInfo node;
      node.node_id = j.at("node_id").get<std::string>();
      for (const auto& m : j.at("modes")) node.modes.insert(m.get<std::string>());
      node.registered_ns = j.value("registered_ns", int64_t{0});
      node.heartbeat_ns = j.value("heartbeat_ns", int64_t{0});
      out.push_back(std::move(node));
    } catch (const std::exception& e) {
      log::Warn("cluster: skipping node record " + key + ": " + e.what());
    }
  }
  return out;
}

}  // namespace riffle::cluster
