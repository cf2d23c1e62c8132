// synth::tracing_config_files's entry point (tracer/layers.hpp): YAML (yaml-cpp) and TOML
// (toml++) config files, read into the same settings as JSON ones.
#include <toml++/toml.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "config/config_file.hpp"
#include "synth/tracing/error.hpp"
#include "tracer/layers.hpp"

namespace synth::tracing::detail {
namespace {

// Deeper than any configuration; also where an alias that contains itself (a cyclic node graph,
// which yaml-cpp builds for `&a {<<: *a}`) stops instead of exhausting the stack.
constexpr int kMaxYamlDepth = 64;

struct TooDeep {};

Value yaml_to_value(const YAML::Node& node, int depth = 0) {
  if (depth > kMaxYamlDepth) throw TooDeep{};
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      Value::Object o;
      for (const auto& item : node) o.emplace_back(item.first.as<std::string>(), yaml_to_value(item.second, depth + 1));
      return Value(std::move(o));
    }
    case YAML::NodeType::Sequence: {
      Value::Array a;
      for (const auto& item : node) a.push_back(yaml_to_value(item, depth + 1));
      return Value(std::move(a));
    }
    case YAML::NodeType::Scalar:
      return Value(node.Scalar());  // YAML scalars are text, typed on use (parse_text reads "true", "0.5")
    default:
      return Value();
  }
}

Value toml_to_value(const toml::node& node) {
  if (const auto* table = node.as_table()) {
    Value::Object o;
    for (const auto& [key, value] : *table) o.emplace_back(std::string(key.str()), toml_to_value(value));
    return Value(std::move(o));
  }
  if (const auto* array = node.as_array()) {
    Value::Array a;
    for (const auto& value : *array) a.push_back(toml_to_value(value));
    return Value(std::move(a));
  }
  if (const auto* s = node.as_string()) return Value(s->get());
  if (const auto* i = node.as_integer()) return Value(i->get());
  if (const auto* d = node.as_floating_point()) return Value(d->get());
  if (const auto* b = node.as_boolean()) return Value(b->get());
  return Value(std::string(node.is_date_time() ? "date-time" : ""));
}

Value parse_yaml_or_toml(std::string_view text, ConfigFormat format, const std::string& file_name) {
  if (format == ConfigFormat::yaml) {
    try {
      return yaml_to_value(YAML::Load(std::string(text)));
    } catch (const YAML::Exception& e) {
      throw Error("config file '" + file_name + "' is not valid YAML: " + e.what());
    } catch (const TooDeep&) {
      throw Error("config file '" + file_name + "' is nested deeper than " + std::to_string(kMaxYamlDepth) +
                  " levels (an anchor that refers to itself?)");
    }
  }
  try {
    return toml_to_value(toml::parse(text, file_name));
  } catch (const toml::parse_error& e) {
    throw Error("config file '" + file_name + "' is not valid TOML: " + std::string(e.description()) + " at line " +
                std::to_string(e.source().begin.line));
  }
}

}  // namespace
}  // namespace synth::tracing::detail

extern "C" const synth::tracing::detail::ConfigFilesLayer* synth_tracing_config_files_layer() noexcept {
  static const synth::tracing::detail::ConfigFilesLayer layer{.parse = synth::tracing::detail::parse_yaml_or_toml};
  return &layer;
}
