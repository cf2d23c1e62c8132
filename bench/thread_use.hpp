// What the threads of this process with a given name used so far (Linux schedstat and stat): the
// server's writer thread ("serve-writer") measured alone, less disturbed by other load than the
// wall time of the whole run.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

namespace synth_bench {

struct ThreadUse {
  double cpu_ms = 0;
  double page_faults = 0;  // minor: pages touched first (or again after being given back)
};

inline ThreadUse thread_use(std::string_view name) {
  ThreadUse use;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string thread_name;
    std::getline(comm, thread_name);
    if (thread_name != name) continue;
    std::ifstream schedstat(task.path() / "schedstat");
    double on_cpu_ns = 0;
    if (schedstat >> on_cpu_ns) use.cpu_ms += on_cpu_ns / 1e6;
    // stat: "pid (comm) state ppid ..."; minflt is the 10th field, the 7th after the comm.
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    std::istringstream fields(line.substr(line.rfind(')') + 1));
    std::string field;
    for (int i = 0; i < 7 && fields >> field; ++i) {
    }
    double minflt = 0;
    if (fields >> minflt) use.page_faults += minflt;
  }
  return use;
}

}  // namespace synth_bench
