// Uses the installed DuckDB trace store: insert a session, load it back, compare.
#include <cstdio>
#include <filesystem>
#include <synth/tracing.hpp>
#include <synth/tracing/duckdb.hpp>

namespace st = synth::tracing;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: store_consumer DB_FILE\n");
    return 2;
  }
  std::filesystem::remove(argv[1]);
  st::SessionTracer tracer;
  {
    auto session = tracer.start_session("installed-store");
    auto step = tracer.timestep(0);
    tracer.add_event(st::CAISEvent{.model_name = "gpt-4o-mini", .prompt_tokens = 7, .completion_tokens = 3});
  }
  const auto trace = tracer.get_session_trace("installed-store");
  st::DuckDBTraceManager store(argv[1]);
  if (!store.insert_trace(*trace)) return 1;
  const auto loaded = store.load_trace("installed-store");
  if (!loaded || !(*loaded == *trace)) {
    std::fprintf(stderr, "load_trace differs from what was inserted\n");
    return 1;
  }
  const auto usage = store.get_model_usage();
  if (usage.rows.size() != 1 || usage.rows[0][1].as_string() != "openai") {
    std::fprintf(stderr, "unexpected model usage:\n%s", usage.to_table().c_str());
    return 1;
  }
  std::printf("store consumer: round trip through %s ok\n", argv[1]);
  return 0;
}
