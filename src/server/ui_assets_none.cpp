// A build without Node.js/npm (cmake/viewer.cmake said so): no viewer files, GET / answers a
// page that says how to get them.
#include "server/ui_assets.hpp"

namespace synth::tracing::server {

std::span<const UiAsset> embedded_ui_assets() noexcept { return {}; }

}  // namespace synth::tracing::server
