#include "http/url.hpp"

#include <string>

#include "synth/tracing/error.hpp"

namespace synth::tracing::http {

void require_http_url(std::string_view what, std::string_view url, std::string_view hint) {
  if (url.starts_with("http://") || url.starts_with("https://")) return;
  throw Error(std::string(what) + " '" + std::string(url) + "' is not an http:// or https:// URL (" + std::string(hint) + ")");
}

}  // namespace synth::tracing::http
