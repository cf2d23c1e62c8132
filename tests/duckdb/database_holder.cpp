// Usage: database_holder DB
// Another process holding a trace database open, for tests of a locked database (DatabaseHolder
// in duckdb_support.hpp starts it): opens DB, writes "r" to stdout once it has it ("e" when it
// could not open it, exit 1), and keeps it until its stdin closes.
#include <unistd.h>

#include "synth/tracing/duckdb.hpp"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  try {
    synth::tracing::DuckDBTraceManager holder(argv[1]);
    if (::write(STDOUT_FILENO, "r", 1) != 1) return 2;
    char c;
    while (::read(STDIN_FILENO, &c, 1) > 0) {
    }
  } catch (...) {
    (void)!::write(STDOUT_FILENO, "e", 1);
    return 1;
  }
  return 0;
}
