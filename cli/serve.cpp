// synth-trace serve: own the database until SIGINT or SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>

#include "cli.hpp"
#include "server/server.hpp"

namespace synth_trace {

int run_serve(const Target& target, st::server::ServerOptions options) {
  options.db = target.db;
  if (options.token.empty()) options.token = target.token;
  // The signals are taken by sigwait() below, on this thread: every thread the server starts
  // inherits the mask, so none of them is interrupted.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  st::server::Server server(options);
  // The first line is stable: scripts and tests read the address from it.
  std::cout << "synth-trace serve: listening on " << server.url() << "\n"
            << "database: " << options.db.string() << (options.token.empty() ? "" : " (token required)") << "\n"
            << "API: " << server.url() << "/api/v1/health, /api/v1/sessions, ... (README: The trace server)\n"
            << "OTLP/HTTP: " << server.url() << "/v1/traces"
            << (server.otlp_port() > 0 ? " and " + server.otlp_url() + "/v1/traces" : std::string())
            << (options.otlp_port > 0 && server.otlp_port() == 0
                    ? " (port " + std::to_string(options.otlp_port) + " is taken: not listening there)"
                    : std::string())
            << "\n"
            << (options.forward_otlp.empty() ? std::string()
                                             : "forwarding stored sessions as OTLP to " + options.forward_otlp + "\n")
            << "stop with Ctrl-C (SIGINT) or SIGTERM" << std::endl;
  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::cout << "synth-trace serve: stopping (" << (signal == SIGINT ? "SIGINT" : "SIGTERM")
            << "): storing what was accepted" << std::endl;
  const st::server::StopReport report = server.stop();
  if (!report.finished) {
    std::cerr << "synth-trace serve: the writer was still busy after --shutdown-timeout-ms; exiting without closing "
                 "the database (it replays its log when opened next)\n";
    std::_Exit(kBadInput);
  }
  std::cout << "synth-trace serve: stopped; " << report.stored << " sessions stored"
            << (report.lost > 0 ? ", " + std::to_string(report.lost) + " accepted sessions could not be stored" : "")
            << std::endl;
  return report.lost > 0 ? kBadInput : kOk;
}

}  // namespace synth_trace
