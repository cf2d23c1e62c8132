// Internal: TracingConfig::load without the file access, so that the fuzz harnesses
// (tests/fuzz) can feed the config readers text directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "synth/tracing/config.hpp"
#include "synth/tracing/json.hpp"

namespace synth::tracing::detail {

/// The formats of config files, told apart by extension (.json, .yaml or .yml, .toml).
enum class ConfigFormat : std::uint8_t { json, yaml, toml };

/// The settings in the text of a config file: a mapping (an empty YAML file gives an empty one).
/// Throws Error (TraceFormatError for JSON) naming `file_name` when the text is not valid in
/// `format` or holds something other than a mapping.
Value parse_config(std::string_view text, ConfigFormat format, const std::string& file_name);

/// `config` with every field not set in code filled from the environment, then from `file` (the
/// settings of `file_name`, from parse_config), validated: TracingConfig::load once the file is
/// read. Throws Error naming the variable, file, key or field and the bad value.
TracingConfig apply_config(const TracingConfig& config, const Value& file, const std::string& file_name);

}  // namespace synth::tracing::detail
