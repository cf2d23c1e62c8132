// End to end through the real example binary: run it as a user would, then check its output
// and the trace files it wrote.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "support.hpp"
#include "synth/tracing.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;
using st::testing::CommandResult;
using st::testing::run_command;

namespace {
fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("synth_e2e_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}
}  // namespace

TEST(AgentLoop, WritesOneReadableTracePerEpisode) {
  const fs::path out = fresh_dir("agent_loop");
  const CommandResult r = run_command(std::string(AGENT_LOOP_BINARY) + " --episodes 5 --threads 3 --seed 11 --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("recorded 5 sessions"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0 sink errors"), std::string::npos) << r.output;

  std::size_t files = 0;
  std::set<std::string> ids;
  for (const auto& entry : fs::directory_iterator(out)) {
    ++files;
    const st::SessionTrace trace = st::SessionTrace::read_file(entry.path());
    ids.insert(trace.session_id);
    ASSERT_FALSE(trace.session_time_steps.empty());
    // Every turn: an observation and an action message, an LLM-policy, a runtime and an env event.
    for (const auto& step : trace.session_time_steps) {
      ASSERT_EQ(step.events.size(), 3u);
      EXPECT_EQ(st::event_type(step.events[0]), st::EventType::cais);
      EXPECT_EQ(st::event_type(step.events[1]), st::EventType::runtime);
      EXPECT_EQ(st::event_type(step.events[2]), st::EventType::environment);
      ASSERT_EQ(step.step_messages.size(), 2u);
      EXPECT_EQ(step.step_messages[0].message_type, "observation");
    }
    EXPECT_EQ(trace.event_history.size(), 3 * trace.session_time_steps.size());
    EXPECT_EQ(trace.start_metadata()["policy"].as_string(), "scripted");
    EXPECT_EQ(trace.session_metadata.back().metadata_type, "outcome");
  }
  EXPECT_EQ(files, 5u);
  EXPECT_EQ(ids, (std::set<std::string>{"episode-0", "episode-1", "episode-2", "episode-3", "episode-4"}));
  fs::remove_all(out);
}

TEST(AgentLoop, BadArgumentsExitWithUsageError) {
  EXPECT_EQ(run_command(std::string(AGENT_LOOP_BINARY) + " --episodes").exit_code, 2);
  EXPECT_EQ(run_command(std::string(AGENT_LOOP_BINARY) + " --episodes many").exit_code, 2);
  EXPECT_EQ(run_command(std::string(AGENT_LOOP_BINARY) + " --frobnicate").exit_code, 2);
  EXPECT_EQ(run_command(std::string(AGENT_LOOP_BINARY) + " --help").exit_code, 0);
}

TEST(AgentLoop, UnwritableOutputFolderIsAClearError) {
  const fs::path dir = fresh_dir("agent_loop_blocked");
  fs::create_directories(dir);
  const fs::path blocker = dir / "file";
  { std::ofstream(blocker) << "x"; }
  const CommandResult r = run_command(std::string(AGENT_LOOP_BINARY) + " --episodes 1 --out " + (blocker / "traces").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot be created"), std::string::npos) << r.output;
  fs::remove_all(dir);
}
