// synth-trace: store, inspect, query and export agent traces.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <optional>
#include <string_view>

#include <synth/tracing/config.hpp>
#include <synth/tracing/version.hpp>

#include "cli.hpp"

namespace {

using namespace synth_trace;

const std::map<std::string, Format> kFormats{{"table", Format::table}, {"csv", Format::csv}, {"json", Format::json}};

void add_format(CLI::App* cmd, Format& format) {
  cmd->add_option("--format", format, "Output format: table, csv or json")
      ->transform(CLI::CheckedTransformer(kFormats, CLI::ignore_case));
}

// Errors may quote trace content (a value in a constraint error, a session id): each line is
// printed terminal-safe.
void print_error(std::string_view message) {
  std::cerr << "synth-trace: ";
  for (std::size_t start = 0; start <= message.size();) {
    const std::size_t end = std::min(message.find('\n', start), message.size());
    std::cerr << st::terminal_safe(message.substr(start, end - start)) << "\n";
    start = end + 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"synth-trace: store, inspect, query and export traces of AI agents"};
  app.set_version_flag("--version", std::string("synth-trace ") + synth::tracing::kVersion);
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand

  std::optional<std::string> db_option;
  app.add_option("--db", db_option,
                 "DuckDB trace database (default: TracingConfig::db_path: $SYNTH_TRACING_DB, the configuration "
                 "file's db_path, else traces.duckdb)");
  Target target;
  app.add_option("--server", target.server,
                 "Read and import through this synth-trace serve (default: the one that owns the database, if any)");
  app.add_option("--token", target.token, "The server's token (serve: the token clients must send)");

  DemoOptions demo;
  auto* demo_cmd = app.add_subcommand("demo", "Run a small traced agent and store its traces in the database");
  demo_cmd->add_option("--episodes", demo.episodes, "Episodes to run (default 5)")->check(CLI::Range(1, 100000));
  demo_cmd->add_option("--threads", demo.threads, "Episodes run in parallel (default 2)")->check(CLI::Range(1, 64));
  demo_cmd->add_option("--seed", demo.seed, "Random seed (default 7)");

  ImportOptions import;
  auto* import_cmd = app.add_subcommand("import", "Import JSON trace files or folders (ours and the Python original's)");
  import_cmd->add_option("paths", import.paths, "Files (.json, .jsonl) or folders")->required();
  const std::map<std::string, st::OnExistingSession> kOnExisting{
      {"skip", st::OnExistingSession::skip},
      {"replace", st::OnExistingSession::replace},
      {"fail", st::OnExistingSession::fail},
      {"merge", st::OnExistingSession::merge}};
  import_cmd->add_option("--on-existing", import.on_existing,
                         "A session already stored: skip (default), replace, fail, or merge (add this part to it)")
      ->transform(CLI::CheckedTransformer(kOnExisting, CLI::ignore_case));

  RecoverOptions recover;
  auto* recover_cmd = app.add_subcommand(
      "recover", "Store the sessions left in a spill folder by processes that died (marked aborted when unfinished)");
  recover_cmd->add_option("spill_dir", recover.spill_dir,
                          "The spill folder (default: TracingConfig::spill_dir, .synth-tracing/spill)");
  recover_cmd->add_option("--on-existing", recover.on_existing,
                          "A session already stored: skip (default), replace, fail, or merge")
      ->transform(CLI::CheckedTransformer(kOnExisting, CLI::ignore_case));

  SessionsOptions sessions;
  auto* sessions_cmd = app.add_subcommand("sessions", "List stored sessions, newest first");
  sessions_cmd->add_option("--experiment", sessions.experiment, "Only sessions of this experiment id");
  sessions_cmd->add_option("--since", sessions.since, "Only sessions created at or after this ISO-8601 time");
  sessions_cmd->add_option("--until", sessions.until, "Only sessions created at or before this ISO-8601 time");
  sessions_cmd->add_option("--limit", sessions.limit, "At most this many (default 50)")->check(CLI::Range(1, 1000000000));
  add_format(sessions_cmd, sessions.format);

  std::string show_id;
  auto* show_cmd = app.add_subcommand("show", "Show one session as a tree of timesteps, messages and events");
  show_cmd->add_option("session_id", show_id, "The session to show")->required();

  StatsOptions stats;
  auto* stats_cmd = app.add_subcommand("stats", "Usage and cost per model and provider, per session, and totals");
  stats_cmd->add_option("--top", stats.top, "Sessions listed, most expensive first (default 10)")->check(CLI::Range(0, 1000000));
  add_format(stats_cmd, stats.format);

  QueryOptions query;
  auto* query_cmd = app.add_subcommand("query", "Run SQL against the trace database (read-only unless --write)");
  query_cmd->add_option("sql", query.sql, "The SQL; use ? for values given with --param")->required();
  query_cmd->add_option("--param", query.params,
                        "A value bound to the next ? (repeatable): text as given (007 stays \"007\"), or "
                        "int:N, float:X, bool:true|false, null: or text:T for a type");
  query_cmd->add_flag("--write", query.write, "Open the database writable, for statements that change it");
  add_format(query_cmd, query.format);

  ExportOptions export_opts;
  auto* export_cmd = app.add_subcommand("export", "Export the database as Parquet files or JSON lines");
  auto* parquet = export_cmd->add_option("--parquet", export_opts.parquet_dir, "Folder for one .parquet file per table");
  auto* jsonl = export_cmd->add_option("--jsonl", export_opts.jsonl_file, "File with one JSON trace per line");
  parquet->excludes(jsonl);
  jsonl->excludes(parquet);

  FinetuneOptions finetune;
  auto* finetune_cmd =
      app.add_subcommand("finetune-export", "Write OpenAI chat fine-tuning JSONL from the LLM calls of successful sessions");
  finetune_cmd->add_option("--out", finetune.out, "Output .jsonl file")->required();
  finetune_cmd->add_option("--min-reward", finetune.min_reward,
                           "Sessions whose total reward exceeds this are successful (default 0)");

  auto* migrate_cmd = app.add_subcommand(
      "migrate", "Bring a database written by the Python original or an earlier synth-tracing to the current schema");

  st::server::ServerOptions serve;
  auto* serve_cmd = app.add_subcommand(
      "serve", "Own the database and serve it over HTTP on 127.0.0.1: sessions in from any process, the viewer's API");
  serve_cmd->add_option("--host", serve.host, "Address to listen on (default 127.0.0.1; others need --token)");
  serve_cmd->add_option("--port", serve.port, "Port (default 4319; 0 picks a free one)")->check(CLI::Range(0, 65535));
  serve.otlp_port = 4318;
  auto* otlp_port_opt = serve_cmd->add_option("--otlp-port", serve.otlp_port,
                          "Also answer on this port, the OpenTelemetry default (default 4318, when free; 0: not)")
      ->check(CLI::Range(0, 65535));
  serve_cmd->add_option("--allow-host", serve.allowed_hosts, "Another Host header name to answer (repeatable)");
  serve_cmd->add_option("--max-body-bytes", serve.max_body_bytes, "Largest request body, decompressed (default 64 MiB)")
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--queue-sessions", serve.queue_sessions, "Sessions waiting to be stored, at most (default 10000)")
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--queue-bytes", serve.queue_bytes, "Their size together, at most: native sessions' JSON, OTLP sessions' share of the request body (default 512 MiB)")
      ->check(CLI::PositiveNumber);
  std::int64_t queue_delay_ms = serve.queue_delay.count();
  serve_cmd->add_option("--queue-delay-ms", queue_delay_ms,
                        "And no more than the writer stores in this long at its recent pace, so that what is "
                        "acknowledged before its commit is committed soon after (default 250; 0: no bound in time)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{3600000}));
  serve_cmd->add_option("--commit-sessions", serve.commit_sessions, "Commit every N sessions (default 1000)")
      ->check(CLI::PositiveNumber);
  std::int64_t commit_ms = serve.commit_interval.count(), query_ms = serve.query_timeout.count(),
               shutdown_ms = serve.shutdown_timeout.count(), commit_group_ms = serve.commit_group.count();
  serve_cmd->add_option("--commit-interval-ms", commit_ms, "Or once a session waited this long (default 1000)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{3600000}));
  serve_cmd->add_option("--commit-group-ms", commit_group_ms,
                        "When busy, keep taking requests this long before committing, so they share a commit "
                        "(default 5; 0: off)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1000}));
  serve_cmd->add_option("--query-max-rows", serve.query_max_rows, "Rows a query returns, at most (default 10000)")
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--query-timeout-ms", query_ms, "Time a query may run (default 10000)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{3600000}));
  serve_cmd->add_option("--max-page", serve.max_page, "Rows one page of a list returns, at most (default 1000)")
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--max-event-bytes", serve.max_event_bytes, "What an event's payloads may take together; beyond, the largest are cut (default 8 MiB)")
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--shutdown-timeout-ms", shutdown_ms, "Time stopping may take to store what was accepted (default 30000)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{3600000}));
  std::int64_t log_hold_ms = serve.log_hold.count();
  serve_cmd->add_option("--log-hold-ms", log_hold_ms,
                        "GenAI log records wait this long for their span, to join its LLM call (default 60000; 0: not)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{3600000}));
  std::int64_t span_hold_ms = serve.span_hold.count();
  serve_cmd->add_option("--span-hold-ms", span_hold_ms,
                        "LLM call spans without content wait this long for their log records (default 500; 0: not)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{60000}));
  serve_cmd->add_option("--log-hold-bytes", serve.log_hold_bytes, "Log records waiting, their size at most (default 64 MiB)")
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--log-hold-records", serve.log_hold_records, "Log records waiting, at most (default 100000)")
      ->check(CLI::PositiveNumber);
  std::string otlp_ack = "journal";
  serve_cmd->add_option("--otlp-ack", otlp_ack,
                        "Answer OTLP requests, and sessions posted without ?wait=commit, once written to the journal "
                        "beside the database (journal, the default: a kill loses none of it), once their data is "
                        "committed (commit; sessions then once queued) or once queued (queue: a kill loses what was "
                        "not committed)")
      ->check(CLI::IsMember({"commit", "journal", "queue"}));
  std::int64_t otlp_part_wait_ms = serve.otlp_part_wait.count();
  serve_cmd->add_option("--otlp-part-wait-ms", otlp_part_wait_ms,
                        "With --otlp-ack commit or journal, spans of a trace whose session is not named yet wait this long for "
                        "the span naming it, then are stored under their trace id (default 10000; 0: not)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{3600000}));
  serve_cmd->add_option("--http-threads", serve.http_threads, "HTTP worker threads (default 16)")->check(CLI::Range(2, 1024));
  serve_cmd->add_option("--db-threads", serve.db_threads,
                        "DuckDB worker threads besides the request and writer threads (default 1; 0: one per core)")
      ->check(CLI::Range(0, 1024));
  serve_cmd->add_option("--ui-dir", serve.ui_dir, "Serve the viewer from this folder (web/build.mjs output) instead of the built-in one")
      ->check(CLI::ExistingDirectory);
  serve_cmd->add_option("--forward-otlp", serve.forward_otlp,
                        "Also export every stored session as OTLP spans to this OTLP/HTTP traces endpoint "
                        "(an OpenTelemetry Collector, Jaeger, Tempo, ...; a URL without a path gets /v1/traces)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "synth-trace: " << e.what() << "\n(run synth-trace --help, or synth-trace <command> --help)\n";
    return kUsage;
  }

  try {
    // TracingConfig's db_path: SYNTH_TRACING_DB, else the configuration file, else the default.
    target.db = db_option ? std::filesystem::path(*db_option) : st::TracingConfig{}.load().db_path.value();
    if (*demo_cmd) return run_demo(target, demo);
    if (*import_cmd) return run_import(target, import);
    if (*recover_cmd) return run_recover(target, recover);
    if (*sessions_cmd) return run_sessions(target, sessions);
    if (*show_cmd) return run_show(target, show_id);
    if (*stats_cmd) return run_stats(target, stats);
    if (*query_cmd) return run_query(target, query);
    if (*export_cmd) {
      if (!export_opts.parquet_dir && !export_opts.jsonl_file) throw UsageError("export needs --parquet DIR or --jsonl FILE");
      return run_export(target, export_opts);
    }
    if (*finetune_cmd) return run_finetune_export(target, finetune);
    if (*migrate_cmd) return run_migrate(target);
    if (*serve_cmd) {
      serve.otlp_port_required = otlp_port_opt->count() > 0 && serve.otlp_port > 0;
      serve.commit_interval = std::chrono::milliseconds(commit_ms);
      serve.commit_group = std::chrono::milliseconds(commit_group_ms);
      serve.queue_delay = std::chrono::milliseconds(queue_delay_ms);
      serve.query_timeout = std::chrono::milliseconds(query_ms);
      serve.shutdown_timeout = std::chrono::milliseconds(shutdown_ms);
      serve.log_hold = std::chrono::milliseconds(log_hold_ms);
      serve.span_hold = std::chrono::milliseconds(span_hold_ms);
      serve.otlp_ack = otlp_ack == "journal" ? st::server::ServerOptions::OtlpAck::journal
                       : otlp_ack == "queue"   ? st::server::ServerOptions::OtlpAck::queue
                                               : st::server::ServerOptions::OtlpAck::commit;
      serve.otlp_part_wait = std::chrono::milliseconds(otlp_part_wait_ms);
      return run_serve(target, std::move(serve));
    }
  } catch (const UsageError& e) {
    print_error(e.what());
    std::cerr << "(run synth-trace --help)\n";
    return kUsage;
  } catch (const std::exception& e) {
    print_error(e.what());
    return kBadInput;
  }
  return kUsage;
}
