// The synth-trace command line, run as a process: outputs (golden files for the deterministic
// ones), exit codes (0 ok, 1 bad input, 2 usage) and bad inputs.
#include <duckdb.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "server/serve_process.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/duckdb.hpp"
#include "duckdb/duckdb_support.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;

namespace {

struct Output {
  int code;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("synth_cli_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "traces.duckdb").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs synth-trace with `args` (already shell-quoted where needed) on this test's database,
  // with `env` ("NAME=value ..." for env(1)) changing its environment.
  Output run(const std::string& args, bool with_db = true, const std::string& env = "") const {
    const fs::path out = dir_ / "stdout.txt";
    const fs::path err = dir_ / "stderr.txt";
    std::string cmd = (env.empty() ? "" : "env " + env + " ") + std::string(SYNTH_TRACE_BINARY) +
                      (with_db ? " --db " + quote(db_) : "") + " " + args + " >" + quote(out.string()) + " 2>" +
                      quote(err.string()) + " </dev/null";
    const int status = std::system(cmd.c_str());
    return Output{WIFEXITED(status) ? WEXITSTATUS(status) : -1, st::testing::file_contents(out), st::testing::file_contents(err)};
  }

  void expect_goldens(const std::string& options) const;

  static std::string data(const std::string& relative) { return std::string(SYNTH_TEST_DATA_DIR) + "/" + relative; }

  void import_fixtures() const {
    const Output o = run("import " + quote(data("python")) + " " + quote(data("readme_shape/with_histories.json")));
    ASSERT_EQ(o.code, 0) << o.out << o.err;
  }

  void expect_golden(const Output& o, const std::string& golden) const {
    EXPECT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(o.out, st::testing::file_contents(data("cli/" + golden))) << "golden file tests/data/cli/" << golden;
  }

  fs::path dir_;
  std::string db_;
};

TEST_F(Cli, HelpAndVersion) {
  const Output help = run("--help", false);
  EXPECT_EQ(help.code, 0);
  for (const char* cmd :
       {"demo", "import", "recover", "sessions", "show", "stats", "query", "export", "finetune-export", "migrate"}) {
    EXPECT_NE(help.out.find(cmd), std::string::npos) << cmd;
    const Output sub = run(std::string(cmd) + " --help", false);
    EXPECT_EQ(sub.code, 0) << cmd << sub.err;
    EXPECT_NE(sub.out.find("Usage"), std::string::npos) << cmd;
  }
  const Output version = run("--version", false);
  EXPECT_EQ(version.code, 0);
  EXPECT_EQ(version.out, std::string("synth-trace ") + st::kVersion + "\n");
}

TEST_F(Cli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run("", false).code, 2);
  EXPECT_EQ(run("frobnicate", false).code, 2);
  EXPECT_EQ(run("sessions --format yaml").code, 2);
  EXPECT_EQ(run("sessions --limit 0").code, 2);
  EXPECT_EQ(run("show").code, 2);
  EXPECT_EQ(run("export").code, 2);
  EXPECT_EQ(run("export --parquet a --jsonl b").code, 2);
  EXPECT_EQ(run("finetune-export").code, 2);
  EXPECT_EQ(run("demo --episodes 0").code, 2);
  const Output since = run("sessions --since yesterday");
  EXPECT_EQ(since.code, 2);
  EXPECT_NE(since.err.find("--since"), std::string::npos) << since.err;
}

// The reading commands' golden outputs, with `options` ("--server URL", say) before each.
void Cli::expect_goldens(const std::string& options) const {
  expect_golden(run(options + "sessions --format csv"), "sessions.csv");
  expect_golden(run(options + "show s-1"), "show_s-1.txt");
  expect_golden(run(options + "show readme-session"), "show_readme-session.txt");  // has an item outside timesteps
  expect_golden(run(options + "stats --format csv"), "stats.csv");
  expect_golden(run(options + "query " +
                    quote("SELECT event_type, COUNT(*) AS n, SUM(cost) AS cost FROM events GROUP BY ALL ORDER BY event_type") +
                    " --format json"),
                "query_event_types.json");
  expect_golden(run(options + "query " +
                    quote("SELECT session_id, num_events FROM session_traces WHERE num_events >= ? ORDER BY ALL") +
                    " --param 2"),
                "query_param.txt");
}

TEST_F(Cli, ImportAndGoldenOutputs) {
  import_fixtures();
  expect_goldens("");
}

TEST_F(Cli, BesideARunningServerTheCommandsReadThroughItWithTheSameOutput) {
  import_fixtures();
  const fs::path direct_jsonl = dir_ / "direct.jsonl";
  ASSERT_EQ(run("export --jsonl " + quote(direct_jsonl.string())).code, 0);

  synth_test::ServeProcess serve(db_);
  expect_goldens("");  // the server found through its lock file
  expect_goldens("--server " + serve.url() + " ");
  const fs::path served_jsonl = dir_ / "served.jsonl";
  const Output exported = run("export --jsonl " + quote(served_jsonl.string()));
  EXPECT_EQ(exported.code, 0) << exported.err;
  EXPECT_EQ(st::testing::file_contents(served_jsonl), st::testing::file_contents(direct_jsonl));
  EXPECT_EQ(run("export --parquet " + quote((dir_ / "parquet").string())).code, 0);
  EXPECT_TRUE(fs::exists(dir_ / "parquet" / "events.parquet"));
  const Output missing = run("show nope");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("no session 'nope'"), std::string::npos) << missing.err;

  // import sends to the server; the commands that write the file itself say who owns it.
  const Output imported = run("import " + quote(data("python/env_runtime_session.json")) + " --on-existing replace");
  EXPECT_EQ(imported.code, 0) << imported.err;
  EXPECT_NE(imported.out.find("1 replaced"), std::string::npos) << imported.out;
  for (const char* command : {"query --write 'DELETE FROM events'", "migrate"}) {
    const Output refused = run(command);
    EXPECT_EQ(refused.code, 1) << command;
    EXPECT_NE(refused.err.find(serve.url()), std::string::npos) << command << ": " << refused.err;
  }
  const Output write_sql = run("query 'DELETE FROM events'");
  EXPECT_EQ(write_sql.code, 1);
  EXPECT_NE(write_sql.err.find("only SELECT"), std::string::npos) << write_sql.err;

  ASSERT_EQ(serve.stop(), 0);
  expect_goldens("");  // the file again, unchanged by reading through the server
}

// With the viewer's server running on the file, the demo's sessions go to that server (as the
// library's DuckDB sink sends them), its summary is read through it, and it points at the viewer
// already open rather than at starting one.
TEST_F(Cli, DemoBesideARunningServerSendsItsSessionsToIt) {
  synth_test::ServeProcess serve(db_);
  const Output demo = run("demo --episodes 3 --seed 11");
  ASSERT_EQ(demo.code, 0) << demo.out << demo.err;
  EXPECT_NE(demo.out.find("through the synth-trace serve at " + serve.url()), std::string::npos) << demo.out;
  EXPECT_NE(demo.out.find("open " + serve.url()), std::string::npos) << demo.out;
  EXPECT_EQ(demo.out.find(" serve\n"), std::string::npos) << demo.out;  // no second server to start
  // The summary's totals, read through the server once the sessions were committed: 3 sessions.
  const auto totals = demo.out.find("sessions  steps");
  ASSERT_NE(totals, std::string::npos) << demo.out;
  const auto values = demo.out.find('\n', demo.out.find('\n', totals) + 1) + 1;  // past the header and its rule
  EXPECT_EQ(demo.out.substr(demo.out.find_first_not_of(' ', values), 2), "3 ") << demo.out;  // numbers align right
  const Output sessions = run("sessions --format json");  // through the server
  ASSERT_EQ(sessions.code, 0) << sessions.err;
  const st::Value served = st::Value::parse(sessions.out);
  ASSERT_EQ(served.size(), 3u) << sessions.out;
  for (const auto& row : served.as_array()) EXPECT_GT(row["events"].as_int(), 0);

  ASSERT_EQ(serve.stop(), 0);
  const Output stored = run("sessions --format json");  // the file itself
  ASSERT_EQ(stored.code, 0) << stored.err;
  EXPECT_EQ(st::Value::parse(stored.out), served);
}

// A server started with --token refuses the demo before its episodes unless it is given: the
// configuration's collector token (the library's sink's) or --token.
TEST_F(Cli, DemoBesideAServerWithATokenNeedsIt) {
  synth_test::ServeProcess serve(db_, {"--token", "demo-secret"});
  const Output refused = run("demo --episodes 2");
  EXPECT_EQ(refused.code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("needs its token"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out.find("episodes found"), std::string::npos) << "no episode ran: " << refused.out;
  const Output with_flag = run("--token demo-secret demo --episodes 2");
  EXPECT_EQ(with_flag.code, 0) << with_flag.out << with_flag.err;
  const Output from_config = run("demo --episodes 2", true, "SYNTH_TRACING_COLLECTOR_TOKEN=demo-secret");
  EXPECT_EQ(from_config.code, 0) << from_config.out << from_config.err;
  const Output sessions = run("--token demo-secret sessions --format json");
  ASSERT_EQ(sessions.code, 0) << sessions.err;
  EXPECT_EQ(st::Value::parse(sessions.out).size(), 4u);
}

TEST_F(Cli, ImportReportsBadFilesAndKeepsGoodOnes) {
  const Output o = run("import " + quote(data("python/section_1e_example.json")) + " " +
                       quote(data("bad/prompt_tokens_string.json")) + " " + quote(data("bad/truncated_mid_object.json")) +
                       " " + quote(data("python/env_runtime_session.json")) + " " + quote((dir_ / "missing").string()));
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.err.find("prompt_tokens_string.json"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("expected an integer"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("truncated_mid_object.json"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("no such file or folder"), std::string::npos) << o.err;
  EXPECT_NE(o.out.find("imported 2 sessions from 2 of 4 files"), std::string::npos) << o.out;
  st::DuckDBTraceManager store(db_, st::DuckDBOptions{.read_only = true});
  EXPECT_EQ(store.session_ids().size(), 2u);
}

TEST_F(Cli, ImportTwiceSkipsThenReplaces) {
  import_fixtures();
  const Output again = run("import " + quote(data("python/section_1e_example.json")));
  EXPECT_EQ(again.code, 0);
  EXPECT_NE(again.out.find("1 already stored (skipped)"), std::string::npos) << again.out;
  const Output replace = run("import --on-existing replace " + quote(data("python/section_1e_example.json")));
  EXPECT_EQ(replace.code, 0);
  EXPECT_NE(replace.out.find("1 replaced"), std::string::npos) << replace.out;
  EXPECT_EQ(run("import --on-existing fail " + quote(data("python/section_1e_example.json"))).code, 1);
}

TEST_F(Cli, ADemoRecordingFasterThanTheDatabaseStoresEverySessionThroughTheSpill) {
  // A sink queue of 4 sessions: the database cannot keep up, and sessions overflow to disk.
  const Output demo = run("demo --episodes 300 --threads 2", true, "SYNTH_TRACING_SINK_QUEUE_CAPACITY=4");
  ASSERT_EQ(demo.code, 0) << demo.out << demo.err;
  EXPECT_NE(demo.out.find("waited in the spill on disk (nothing was dropped)"), std::string::npos) << demo.out;
  const Output count = run("query --format json \"SELECT COUNT(*) AS n FROM session_traces\"");
  ASSERT_EQ(count.code, 0) << count.err;
  EXPECT_EQ(st::Value::parse(count.out)[0]["n"].as_int(), 300);
  const Output events = run("query --format json \"SELECT COUNT(*) AS n FROM session_traces WHERE num_events = 0\"");
  EXPECT_EQ(st::Value::parse(events.out)[0]["n"].as_int(), 0) << "every session arrived whole";
}

TEST_F(Cli, RecoverStoresTheSessionsOfADeadProcessMarkedAborted) {
  const fs::path spill = dir_ / "spill";
  {
    st::SessionScope left_open;
    {
      st::SessionTracer tracer(st::TracingConfig{.mode = st::TracingMode::v2, .spill_dir = spill});
      tracer.add_sink(std::make_shared<st::testing::MemorySink>());
      left_open = tracer.start_session("died-early");
      tracer.add_event(st::EnvironmentEvent{.reward = 2.5});
      ASSERT_TRUE(st::testing::wait_until([&] { return tracer.stats().spill_bytes > 0; }));
    }  // the tracer is gone with the session still open: as after a crash
  }
  const Output recover = run("recover " + quote(spill.string()));
  ASSERT_EQ(recover.code, 0) << recover.out << recover.err;
  EXPECT_NE(recover.out.find("recovered 1 session (1 aborted, 1 events, 0 messages)"), std::string::npos) << recover.out;
  const Output sessions = run("sessions --format json");
  ASSERT_EQ(sessions.code, 0) << sessions.err;
  const st::Value rows = st::Value::parse(sessions.out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["status"].as_string(), "aborted");
  const Output stats = run("stats --format json");
  ASSERT_EQ(stats.code, 0) << stats.err;
  EXPECT_EQ(st::Value::parse(stats.out)["totals"][0]["aborted_sessions"].as_int(), 1) << stats.out;
  EXPECT_EQ(st::Value::parse(stats.out)["sessions"][0]["status"].as_string(), "aborted") << stats.out;
  const Output show = run("show died-early");
  EXPECT_NE(show.out.find("session_status: {\"status\":\"aborted\""), std::string::npos) << show.out;
  const Output again = run("recover " + quote(spill.string()));
  EXPECT_NE(again.out.find("recovered 0 sessions"), std::string::npos) << "the files went once stored: " << again.out;
}

TEST_F(Cli, DemoStoresSessionsThatTheOtherCommandsRead) {
  const Output demo = run("demo --episodes 3 --seed 11");
  ASSERT_EQ(demo.code, 0) << demo.out << demo.err;
  EXPECT_NE(demo.out.find("built-in, deterministic, offline; not an LLM"), std::string::npos);
  EXPECT_NE(demo.out.find("Try next:"), std::string::npos);
  // It leads to the viewer: the command that serves it and the address to open.
  EXPECT_NE(demo.out.find(" serve\n"), std::string::npos) << demo.out;
  EXPECT_NE(demo.out.find("open http://127.0.0.1:4319"), std::string::npos) << demo.out;

  const Output sessions = run("sessions --format json");
  ASSERT_EQ(sessions.code, 0) << sessions.err;
  const st::Value rows = st::Value::parse(sessions.out);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows.as_array()) {
    EXPECT_GT(row["events"].as_int(), 0);
    EXPECT_GT(row["tokens"].as_int(), 0);
    EXPECT_GT(row["cost_usd"].as_double(), 0);
    EXPECT_EQ(row["models_used"], st::Value::array({"synth-demo-policy"}));
  }
  const std::string id = rows[0]["session_id"].as_string();
  const Output show = run("show " + quote(id));
  EXPECT_EQ(show.code, 0);
  EXPECT_NE(show.out.find("cais  agent  synth-demo-policy (offline)"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("environment  gridworld  reward"), std::string::npos) << show.out;

  const fs::path ft = dir_ / "ft.jsonl";
  const Output finetune = run("finetune-export --out " + quote(ft.string()) + " --min-reward 0");
  ASSERT_EQ(finetune.code, 0) << finetune.err;
  std::ifstream in(ft);
  std::string line;
  std::size_t lines = 0;
  while (std::getline(in, line)) {
    const st::Value example = st::Value::parse(line);
    ASSERT_EQ(example.size(), 1u);  // only "messages"
    const auto& messages = example["messages"].as_array();
    ASSERT_EQ(messages.size(), 3u);
    EXPECT_EQ(messages[0]["role"].as_string(), "system");
    EXPECT_EQ(messages[1]["role"].as_string(), "user");
    EXPECT_EQ(messages[2]["role"].as_string(), "assistant");
    EXPECT_TRUE(st::Value::parse(messages[2]["content"].as_string())["action"].is_string());
    ++lines;
  }
  EXPECT_GT(lines, 0u);

  const fs::path jsonl = dir_ / "all.jsonl";
  ASSERT_EQ(run("export --jsonl " + quote(jsonl.string())).code, 0);
  const fs::path parquet = dir_ / "parquet";
  ASSERT_EQ(run("export --parquet " + quote(parquet.string())).code, 0);
  for (const char* table : {"session_traces", "session_timesteps", "events", "messages"}) {
    EXPECT_TRUE(fs::exists(parquet / (std::string(table) + ".parquet"))) << table;
  }
  // The JSON lines import back into another database as the same sessions.
  const std::string other = (dir_ / "other.duckdb").string();
  const Output reimport = run("--db " + quote(other) + " import " + quote(jsonl.string()), false);
  ASSERT_EQ(reimport.code, 0) << reimport.err;
  st::DuckDBTraceManager a(db_, st::DuckDBOptions{.read_only = true});
  st::DuckDBTraceManager b(other, st::DuckDBOptions{.read_only = true});
  EXPECT_EQ(a.load_trace(id), b.load_trace(id));
}

TEST_F(Cli, BadDatabasesAndQueriesExitWithOne) {
  const Output missing = run("sessions");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("no trace database"), std::string::npos) << missing.err;

  std::ofstream(db_) << "this is not a database, just some text that happens to be long enough" << std::string(5000, 'x');
  const Output corrupt = run("sessions");
  EXPECT_EQ(corrupt.code, 1);
  EXPECT_NE(corrupt.err.find(db_), std::string::npos) << corrupt.err;
  EXPECT_NE(corrupt.err.find("not a readable DuckDB database"), std::string::npos) << corrupt.err;
  fs::remove(db_);

  import_fixtures();
  const Output bad_sql = run("query " + quote("SELEC nonsense"));
  EXPECT_EQ(bad_sql.code, 1);
  EXPECT_NE(bad_sql.err.find("SELEC nonsense"), std::string::npos) << bad_sql.err;
  EXPECT_EQ(run("show no-such-session").code, 1);
}

TEST_F(Cli, LockedDatabaseIsAClearError) {
  import_fixtures();
  st::testing::DatabaseHolder holder(db_);
  const Output locked = run("sessions");
  EXPECT_EQ(holder.release(), 0);
  EXPECT_EQ(locked.code, 1);
  EXPECT_NE(locked.err.find("locked by another process"), std::string::npos) << locked.err;
  EXPECT_NE(locked.err.find(db_), std::string::npos) << locked.err;
}

// The bytes of the database file, and whether a write-ahead log exists beside it.
std::string file_state(const std::string& db) {
  return st::testing::file_contents(db) + (fs::exists(db + ".wal") ? "+wal" : "");
}

TEST_F(Cli, CommandsThatOnlyReadNeverChangeTheDatabase) {
  import_fixtures();
  const std::string before = file_state(db_);
  const fs::path out = dir_ / "out";
  for (const std::string& args :
       {std::string("sessions"), std::string("show s-1"), std::string("stats"),
        "query " + quote("SELECT COUNT(*) FROM events"), "export --jsonl " + quote((out / "all.jsonl").string()),
        "export --parquet " + quote((out / "parquet").string()),
        "finetune-export --out " + quote((out / "ft.jsonl").string())}) {
    fs::create_directories(out);
    const Output o = run(args);
    EXPECT_EQ(o.code, 0) << args << "\n" << o.err;
    EXPECT_TRUE(file_state(db_) == before) << args << " changed the database file";
  }
}

TEST_F(Cli, QueryIsReadOnlyUnlessWriteIsGiven) {
  import_fixtures();
  const Output drop = run("query " + quote("DROP TABLE events"));
  EXPECT_EQ(drop.code, 1);
  EXPECT_NE(drop.err.find("read-only"), std::string::npos) << drop.err;
  EXPECT_NE(drop.err.find("--write"), std::string::npos) << drop.err;
  // The database is whole: every later command works.
  EXPECT_EQ(run("sessions").code, 0);
  expect_golden(run("show s-1"), "show_s-1.txt");
  EXPECT_EQ(run("query " + quote("SELECT COUNT(*) FROM events")).code, 0);

  const Output view = run("query --write " + quote("CREATE VIEW llm_calls AS SELECT * FROM events WHERE event_type = 'cais'"));
  EXPECT_EQ(view.code, 0) << view.err;
  const Output count = run("query " + quote("SELECT COUNT(*) AS n FROM llm_calls") + " --format csv");
  EXPECT_EQ(count.code, 0) << count.err;
  EXPECT_NE(count.out.find("n\r\n"), std::string::npos) << count.out;

  // Read-only on a file that does not exist: said plainly, nothing created.
  const std::string missing = (dir_ / "missing.duckdb").string();
  const Output absent = run("--db " + quote(missing) + " query " + quote("SELECT 1"), false);
  EXPECT_EQ(absent.code, 1);
  EXPECT_NE(absent.err.find("no trace database at '" + missing + "'"), std::string::npos) << absent.err;
  EXPECT_FALSE(fs::exists(missing));
}

TEST_F(Cli, ParamsBindTheTextAsGivenUnlessATypeIsNamed) {
  import_fixtures();
  const auto bound = [&](const std::string& param) {
    const Output o = run("query " + quote("SELECT ? AS v") + " --param " + quote(param) + " --format json");
    EXPECT_EQ(o.code, 0) << param << ": " << o.err;
    return o.code == 0 ? st::Value::parse(o.out)[0]["v"] : st::Value("<failed>");
  };
  EXPECT_EQ(bound("007"), st::Value("007"));
  EXPECT_EQ(bound("1e3"), st::Value("1e3"));
  EXPECT_EQ(bound("https://example.com:8080/x"), st::Value("https://example.com:8080/x"));
  EXPECT_EQ(bound("int:007"), st::Value(7));
  EXPECT_EQ(bound("float:0.25"), st::Value(0.25));
  EXPECT_EQ(bound("bool:true"), st::Value(true));
  EXPECT_EQ(bound("null:"), st::Value());
  EXPECT_EQ(bound("text:int:5"), st::Value("int:5"));
  // Compared with a number column, text is converted as DuckDB converts it.
  expect_golden(run("query " + quote("SELECT session_id, num_events FROM session_traces WHERE num_events >= ? ORDER BY ALL") +
                    " --param int:2"),
                "query_param.txt");
  const Output bad = run("query " + quote("SELECT ?") + " --param int:seven");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("int:seven"), std::string::npos) << bad.err;
  EXPECT_NE(run("query --help", false).out.find("int:"), std::string::npos);
}

TEST_F(Cli, TraceContentNeverReachesTheTerminalAsControlCharacters) {
  const std::string hostile = "\x1b]0;pwned\x07\x1b[2J\r\xc2\x9b" "31m";
  st::SessionTrace t;
  t.session_id = "hostile";
  t.created_at = st::now();
  t.session_metadata.push_back({"run" + hostile, st::Value{{"note", hostile}}, st::now()});
  st::SessionTimeStep step;
  step.step_id = "step" + hostile;
  st::CAISEvent call{.system_instance_id = "agent" + hostile, .model_name = "gpt" + hostile, .provider = "openai"};
  call.metadata = st::Value{{"error", "boom" + hostile}};
  step.events.push_back(call);
  step.step_messages.push_back(st::make_message("env" + hostile, {{"obs", "line one\nline two" + hostile}},
                                                "observation" + hostile, 0));
  t.event_history = step.events;
  t.message_history = step.step_messages;
  t.session_time_steps.push_back(step);
  const fs::path file = dir_ / "hostile.json";
  t.write_file(file);
  ASSERT_EQ(run("import " + quote(file.string())).code, 0);

  const auto no_controls = [](const Output& o, const std::string& what) {
    ASSERT_EQ(o.code, 0) << what << ": " << o.err;
    for (const char c : o.out) {
      const auto byte = static_cast<unsigned char>(c);
      EXPECT_FALSE((byte < 0x20 && c != '\n') || byte == 0x7F) << what << " printed byte " << int(byte);
    }
    EXPECT_EQ(o.out.find("\xc2\x9b"), std::string::npos) << what << " printed a C1 control";
  };
  const Output show = run("show hostile");
  no_controls(show, "show");
  EXPECT_NE(show.out.find("\\x1b]0;pwned\\x07\\x1b[2J\\r\\u009b31m"), std::string::npos) << show.out;
  no_controls(run("query " + quote("SELECT model_name, system_instance_id, metadata FROM events")), "query table");
  no_controls(run("query " + quote("SELECT content FROM messages")), "query table");
  const Output table = run("query " + quote("SELECT json_extract_string(content, '$.payload.obs') AS obs FROM messages"));
  EXPECT_NE(table.out.find("line one\\nline two"), std::string::npos) << table.out;
  no_controls(run("sessions"), "sessions");
}

TEST_F(Cli, DatabaseComesFromTheConfigurationUnlessGiven) {
  const std::string configured = (dir_ / "configured.duckdb").string();
  const fs::path config = dir_ / "tracing.json";
  std::ofstream(config) << "{\"db_path\": \"" << configured << "\"}";
  const std::string env = "-u SYNTH_TRACING_DB SYNTH_TRACING_CONFIG_FILE=" + quote(config.string());
  const Output o = run("import " + quote(data("python/section_1e_example.json")), false, env);
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_TRUE(fs::exists(configured));
  EXPECT_NE(o.out.find(configured), std::string::npos) << o.out;
  // SYNTH_TRACING_DB wins over the file, and --db over both.
  const std::string from_env = (dir_ / "env.duckdb").string();
  ASSERT_EQ(run("import " + quote(data("python/section_1e_example.json")), false,
                env + " SYNTH_TRACING_DB=" + quote(from_env)).code,
            0);
  EXPECT_TRUE(fs::exists(from_env));
  ASSERT_EQ(run("import " + quote(data("python/section_1e_example.json")), true,
                env + " SYNTH_TRACING_DB=" + quote(from_env)).code,
            0);
  EXPECT_TRUE(fs::exists(db_));
  // A broken configuration is reported, naming the file.
  std::ofstream(config) << "{\"db_path\": 7";
  const Output broken = run("sessions", false, env);
  EXPECT_EQ(broken.code, 1);
  EXPECT_NE(broken.err.find(config.string()), std::string::npos) << broken.err;
}

TEST_F(Cli, MigrateBringsAPythonOriginalDatabaseToTheCurrentSchema) {
  {
    duckdb_database database = nullptr;
    duckdb_connection connection = nullptr;
    ASSERT_EQ(duckdb_open(db_.c_str(), &database), DuckDBSuccess);
    duckdb_connect(database, &connection);
    duckdb_result result;
    const std::string sql = st::testing::file_contents(data("python_duckdb/original_schema.sql"));
    EXPECT_EQ(duckdb_query(connection, sql.c_str(), &result), DuckDBSuccess) << duckdb_result_error(&result);
    duckdb_destroy_result(&result);
    duckdb_disconnect(&connection);
    duckdb_close(&database);
  }
  const Output before = run("sessions");
  EXPECT_EQ(before.code, 1);
  EXPECT_NE(before.err.find("synth-trace migrate"), std::string::npos) << before.err;
  const Output migrate = run("migrate");
  EXPECT_EQ(migrate.code, 0) << migrate.err;
  EXPECT_NE(migrate.out.find("schema version 2"), std::string::npos) << migrate.out;
  EXPECT_NE(migrate.err.find("migrated in place"), std::string::npos) << migrate.err;
  const Output sessions = run("sessions --format json");
  ASSERT_EQ(sessions.code, 0) << sessions.err;
  EXPECT_EQ(st::Value::parse(sessions.out).size(), 2u);
  EXPECT_EQ(run("show episode-1").code, 0);
  const Output again = run("migrate");
  EXPECT_EQ(again.code, 0);
  EXPECT_EQ(again.err, "");
  EXPECT_EQ(run("--db " + quote((dir_ / "none.duckdb").string()) + " migrate", false).code, 1);
  EXPECT_FALSE(fs::exists(dir_ / "none.duckdb"));
}

}  // namespace
