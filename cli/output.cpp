#include <unistd.h>

#include <iostream>

#include "cli.hpp"

namespace synth_trace {

void print(const st::QueryResult& result, Format format) {
  switch (format) {
    case Format::table:
      std::cout << result.to_table();
      break;
    case Format::csv:
      std::cout << result.to_csv();
      break;
    case Format::json:
      std::cout << result.to_json() << "\n";
      break;
  }
}

Progress::Progress(std::string label, std::size_t total)
    : label_(std::move(label)), total_(total), enabled_(::isatty(STDERR_FILENO) == 1 && total > 0) {
  draw(true);
}

Progress::~Progress() {
  if (enabled_) std::cerr << "\r\x1b[2K" << std::flush;  // clear the bar
}

void Progress::advance(std::size_t by) {
  done_ += by;
  draw(false);
}

void Progress::draw(bool force) {
  if (!enabled_) return;
  const int percent = static_cast<int>(100 * std::min(done_, total_) / total_);
  if (!force && percent == last_percent_) return;
  last_percent_ = percent;
  constexpr int kWidth = 30;
  const int filled = percent * kWidth / 100;
  std::cerr << "\r" << label_ << " [" << std::string(static_cast<std::size_t>(filled), '#')
            << std::string(static_cast<std::size_t>(kWidth - filled), ' ') << "] " << percent << "% (" << done_ << "/"
            << total_ << ")" << std::flush;
}

}  // namespace synth_trace
