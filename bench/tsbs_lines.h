// TSBS cpu-only lines (10 tags, 10 float fields) for the C++ benchmarks: `lines` of them, the
// i-th of host i % 1000 at 2016-01-01 plus i ns, from i = `first`.
#pragma once

#include <string>

inline std::string TsbsLines(int lines, int first = 0) {
  std::string body;
  for (int i = first; i < first + lines; ++i) {
    int h = i % 1000;
    body +=
        "cpu,hostname=host_" + std::to_string(h) +
        ",region=us-west-2,datacenter=us-west-2a,rack=" + std::to_string(h % 100) +
        ",os=Ubuntu16.04LTS,arch=x64,team=SF,service=" + std::to_string(h % 20) +
        ",service_version=1,service_environment=production "
        "usage_user=58.1317132,usage_system=2.6224297,"
        "usage_idle=24.9969198,usage_nice=61.8525925,usage_iowait=22.9656878,usage_irq=63.4214562,"
        "usage_softirq=6.1016519,usage_steal=44.9897062,usage_guest=80.5133001,usage_guest_nice=38."
        "2080978 " +
        std::to_string(1451606400000000000LL + i) + "\n";
  }
  return body;
}
