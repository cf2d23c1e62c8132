// Internal: the one check of a URL a user configures (the collector, OTLP endpoints, forwarding).
#pragma once

#include <string_view>

namespace synth::tracing::http {

/// Throws Error "<what> '<url>' is not an http:// or https:// URL (<hint>)" unless `url` starts
/// with one of them: every URL a user configures is checked the same way.
void require_http_url(std::string_view what, std::string_view url, std::string_view hint);

}  // namespace synth::tracing::http
