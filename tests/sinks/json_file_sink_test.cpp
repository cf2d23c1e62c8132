#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"
#include "synth/tracing.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;

// Every fsync() of this process is recorded by the path of its file descriptor, then done for
// real by the C library's fsync (this definition takes the calls the library makes).
namespace {
std::mutex g_synced_mutex;
std::vector<std::string> g_synced;  // guarded by g_synced_mutex

std::vector<std::string> take_synced() {
  std::lock_guard lock(g_synced_mutex);
  return std::exchange(g_synced, {});
}
}  // namespace

extern "C" int fsync(int fd) {
  static const auto real = reinterpret_cast<int (*)(int)>(dlsym(RTLD_NEXT, "fsync"));
  std::error_code ec;
  const fs::path target = fs::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
  if (!ec) {
    std::lock_guard lock(g_synced_mutex);
    g_synced.push_back(target.string());
  }
  return real(fd);
}

namespace {
// A fresh folder under the system temp dir, removed afterwards.
struct TempDir {
  TempDir() : path(fs::temp_directory_path() / ("synth_sink_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))) {
    fs::remove_all(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, ec);
    fs::remove_all(path, ec);
  }
  std::vector<fs::path> json_files() const {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(path)) out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
  }
  fs::path path;
  static inline int counter = 0;
};
}  // namespace

TEST(JsonFileSink, WritesOneFilePerSessionThatReadsBackEqual) {
  TempDir dir;
  st::SessionTracer tracer(st::TracingConfig{.save_dir = dir.path});
  {
    auto session = tracer.start_session("episode-1", {{"seed", 3}});
    auto step = tracer.timestep(0);
    tracer.add_event(st::CAISEvent{.model_name = "gpt-4o-mini", .prompt_tokens = 12});
    tracer.add_message(st::make_message("env", {{"obs", "door"}}, "observation", 0));
  }
  ASSERT_TRUE(tracer.flush());
  const auto files = dir.json_files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(std::regex_match(files[0].filename().string(), std::regex(R"(session_episode-1_\d{8}_\d{6}\.json)")))
      << files[0];
  const auto loaded = st::SessionTrace::read_file(files[0]);
  EXPECT_EQ(loaded, *tracer.get_session_trace("episode-1"));
}

TEST(JsonFileSink, SameIdTwiceInOneSecondKeepsBothFiles) {
  TempDir dir;
  auto sink = std::make_shared<st::JsonFileSink>(dir.path);
  st::SessionTrace trace;
  trace.session_id = "dup";
  sink->write(trace);
  sink->write(trace);
  sink->write(trace);
  EXPECT_EQ(dir.json_files().size(), 3u);
  EXPECT_EQ(sink->files_written(), 3u);
}

TEST(JsonFileSink, UnsafeIdCharactersStayInsideTheFolder) {
  TempDir dir;
  st::JsonFileSink sink(dir.path);
  st::SessionTrace trace;
  trace.session_id = "../../etc/passwd x/y";
  sink.write(trace);
  const auto files = dir.json_files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].parent_path(), dir.path);
  EXPECT_EQ(files[0].filename().string().rfind("session_.._.._etc_passwd_x_y_", 0), 0u) << files[0];
  EXPECT_EQ(st::SessionTrace::read_file(files[0]).session_id, trace.session_id);
}

TEST(JsonFileSink, PrettyFormat) {
  TempDir dir;
  st::JsonFileSink sink(dir.path, st::JsonFormat{.indent = 2});
  st::SessionTrace trace;
  trace.session_id = "pretty";
  sink.write(trace);
  const auto files = dir.json_files();
  ASSERT_EQ(files.size(), 1u);
  std::ifstream in(files[0]);
  std::string first_line;
  std::getline(in, first_line);
  EXPECT_EQ(first_line, "{");
}

TEST(JsonFileSink, FolderThatCannotBeCreatedIsAClearError) {
  TempDir dir;
  fs::create_directories(dir.path);
  const fs::path blocker = dir.path / "a_file";
  std::ofstream(blocker) << "x";
  try {
    st::JsonFileSink sink(blocker / "traces");
    FAIL() << "accepted a folder under a regular file";
  } catch (const st::Error& e) {
    EXPECT_NE(std::string(e.what()).find((blocker / "traces").string()), std::string::npos) << e.what();
  }
}

TEST(JsonFileSink, FailedWriteIsReportedNotThrownAtTheAgent) {
  TempDir dir;
  std::vector<std::string> diagnostics;
  std::mutex m;
  st::set_diagnostic_handler([&](std::string_view msg) {
    std::lock_guard lock(m);
    diagnostics.emplace_back(msg);
  });
  {
    st::SessionTracer tracer(st::TracingConfig{.save_dir = dir.path});
    fs::remove_all(dir.path);  // the folder vanishes under the running tracer (works as root too)
    EXPECT_NO_THROW({ auto s = tracer.start_session("s"); });
    ASSERT_TRUE(tracer.flush());
    EXPECT_EQ(tracer.stats().sink_errors, 1u);
  }
  st::set_diagnostic_handler({});
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_NE(diagnostics[0].find("cannot write trace file"), std::string::npos) << diagnostics[0];
  EXPECT_NE(diagnostics[0].find(dir.path.string()), std::string::npos) << diagnostics[0];
}

TEST(JsonFileSink, WriteErrorsNameTheFile) {
  TempDir dir;
  st::JsonFileSink sink(dir.path);
  fs::remove_all(dir.path);  // the folder vanishes after start-up
  st::SessionTrace trace;
  trace.session_id = "gone";
  try {
    sink.write(trace);
    FAIL();
  } catch (const st::Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.path.string()), std::string::npos) << e.what();
  }
}

TEST(JsonFileSink, ADiskFullLosesOnlyTheSessionThatDoesNotFitNamesItAndLeavesNoPartialFile) {
  TempDir dir;
  st::testing::CapturedDiagnostics diagnostics;
  st::SessionTracer tracer(st::TracingConfig{.save_dir = dir.path, .checkpoint = false});
  const std::string kilobytes(4000, 'x');
  {
    // Every file may hold 16 KiB: the small session fits, the big one does not.
    st::testing::FileSizeLimit disk_full(16 << 10);
    { auto s = tracer.start_session("small"); tracer.add_event(st::RuntimeEvent{.metadata = st::Value{{"k", "v"}}}); }
    {
      auto s = tracer.start_session("big");
      for (int i = 0; i < 10; ++i) tracer.add_event(st::RuntimeEvent{.metadata = st::Value{{"blob", kilobytes}}});
    }
    ASSERT_TRUE(tracer.flush());
  }
  EXPECT_EQ(tracer.stats().sessions_lost, 1u);
  EXPECT_EQ(tracer.stats().sink_errors, 1u);
  const auto files = dir.json_files();
  ASSERT_EQ(files.size(), 1u) << "no partial or temporary file stays";
  EXPECT_NE(files[0].filename().string().find("session_small_"), std::string::npos);
  EXPECT_EQ(st::SessionTrace::read_file(files[0]).session_id, "small");
  bool named = false;
  for (const auto& m : diagnostics.all()) {
    named = named || (m.find("session_big_") != std::string::npos && m.find("free space") != std::string::npos);
  }
  EXPECT_TRUE(named) << "the error names the file and what to do";
  // With room again the sink goes on.
  { auto s = tracer.start_session("after"); }
  ASSERT_TRUE(tracer.flush());
  EXPECT_EQ(dir.json_files().size(), 2u);
}

// Issue 10, fault injection: the output folder made read-only while the agent runs.
TEST(JsonFileSink, AFolderMadeReadOnlyMidRunLosesOnlyWhatEndedMeanwhileNamesTheFolderAndGoesOnWhenWritable) {
  st::testing::TempDir dir("synth_read_only");
  st::testing::Unprivileged user(dir.path);
  st::testing::CapturedDiagnostics diagnostics;
  st::SessionTracer tracer(st::TracingConfig{.save_dir = dir.path, .checkpoint = false});
  { auto s = tracer.start_session("before"); }
  ASSERT_TRUE(tracer.flush());
  fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
  { auto s = tracer.start_session("during"); }
  ASSERT_TRUE(tracer.flush());
  fs::permissions(dir.path, fs::perms::owner_all);
  { auto s = tracer.start_session("after"); }
  ASSERT_TRUE(tracer.flush());

  const st::TracerStats stats = tracer.stats();
  EXPECT_EQ(stats.sessions_lost, 1u) << "counted, never silent";
  EXPECT_EQ(stats.sink_errors, 1u);
  std::vector<std::string> stored;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    stored.push_back(st::SessionTrace::read_file(entry.path()).session_id);
  }
  std::sort(stored.begin(), stored.end());
  EXPECT_EQ(stored, (std::vector<std::string>{"after", "before"}));
  bool named = false;
  for (const auto& m : diagnostics.all()) {
    named = named || (m.find(dir.path.string()) != std::string::npos && m.find("'during'") != std::string::npos &&
                      m.find("sink synth::tracing::JsonFileSink failed") != std::string::npos);
  }
  EXPECT_TRUE(named) << "the error names the sink (as written in C++), the folder and the session";
}

TEST(JsonFileSink, EverySessionIsOnDiskAfterTheTracerIsDestroyed) {
  TempDir dir;
  {
    st::SessionTracer tracer(st::TracingConfig{.save_dir = dir.path});
    for (int i = 0; i < 50; ++i) {
      auto s = tracer.start_session("s" + std::to_string(i));
      tracer.add_event(st::CAISEvent{});
    }
  }  // no explicit flush: destruction waits for the sink
  EXPECT_EQ(dir.json_files().size(), 50u);
}

TEST(JsonFileSink, FlushMakesTheWrittenFilesAndTheirFolderDurable) {
  TempDir dir;
  st::JsonFileSink sink(dir.path);
  st::SessionTrace trace;
  trace.session_id = "a";
  sink.write(trace);
  trace.session_id = "b";
  sink.write(trace);
  (void)take_synced();
  sink.flush();
  const auto synced = take_synced();
  const auto has = [&](const fs::path& p) {
    return std::find(synced.begin(), synced.end(), fs::canonical(p).string()) != synced.end();
  };
  const auto files = dir.json_files();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(has(files[0])) << testing::PrintToString(synced);
  EXPECT_TRUE(has(files[1])) << testing::PrintToString(synced);
  EXPECT_TRUE(has(dir.path)) << testing::PrintToString(synced);  // the renames are in the folder
  sink.flush();
  EXPECT_TRUE(take_synced().empty()) << "nothing new to make durable";
}

TEST(SessionTraceFile, WriteFileIsAtomicAndReplaces) {
  TempDir dir;
  fs::create_directories(dir.path);
  st::SessionTrace trace;
  trace.session_id = "one";
  trace.write_file(dir.path / "t.json");
  trace.session_id = "two";
  trace.write_file(dir.path / "t.json");
  EXPECT_EQ(dir.json_files().size(), 1u);  // no temporary files left behind
  EXPECT_EQ(st::SessionTrace::read_file(dir.path / "t.json").session_id, "two");
  EXPECT_THROW(trace.write_file(dir.path / "missing" / "t.json"), st::Error);
}
