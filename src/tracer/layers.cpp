#include "tracer/layers.hpp"

// Weak references: an entry point is null unless its layer's target is linked.
#pragma weak synth_tracing_policy_layer
#pragma weak synth_tracing_otel_layer
#pragma weak synth_tracing_config_files_layer

namespace synth::tracing::detail {

const PolicyLayer* policy_layer() noexcept {
  return synth_tracing_policy_layer != nullptr ? synth_tracing_policy_layer() : nullptr;
}

const OtelLayer* otel_layer() noexcept {
  return synth_tracing_otel_layer != nullptr ? synth_tracing_otel_layer() : nullptr;
}

const ConfigFilesLayer* config_files_layer() noexcept {
  return synth_tracing_config_files_layer != nullptr ? synth_tracing_config_files_layer() : nullptr;
}

}  // namespace synth::tracing::detail
