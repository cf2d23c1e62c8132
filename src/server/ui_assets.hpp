// Internal: the viewer's files built into the binary (web/build.mjs generates the table from the
// esbuild bundle; ui_assets_none.cpp is the empty table of a build without Node.js/npm).
#pragma once

#include <cstddef>
#include <span>

namespace synth::tracing::server {

/// One file of the viewer, stored gzip-compressed.
struct UiAsset {
  /// The URL path, e.g. "/index.html" or "/assets/main-3FJ2.js".
  const char* path;
  /// The Content-Type to send.
  const char* mime;
  /// The gzip bytes (gzip -9, no name or time in the header).
  const unsigned char* gzip;
  std::size_t gzip_size;
  /// The size once decompressed.
  std::size_t size;
  /// A quoted strong ETag: a hash of the uncompressed content.
  const char* etag;
};

/// The files built into this binary; empty when it was built without the viewer.
std::span<const UiAsset> embedded_ui_assets() noexcept;

}  // namespace synth::tracing::server
