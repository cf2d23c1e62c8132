// GET / and the viewer's files: built into the binary (gzip, ETag), or read from --ui-dir for
// development. Client-side routes (/sessions/ID, /compare, /stats, /sql, ...) answer the index
// page so that deep links and reloads work; /api/ and /v1/ never do.
#include <zlib.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>

#include "server/routes.hpp"
#include "server/ui_assets.hpp"

namespace synth::tracing::server {

namespace {

constexpr const char* kPlaceholderPage = R"HTML(<!doctype html>
<html><head><meta charset="utf-8"><title>synth-trace serve</title></head>
<body>
<h1>synth-trace serve</h1>
<p>This synth-trace was built without the viewer (the build found no Node.js and npm, or was
configured with -DSYNTH_TRACING_BUILD_VIEWER=OFF): install them (scripts/setup.sh) and build
again, or serve a built viewer with --ui-dir DIR. The JSON API
answers under <code>/api/v1/</code>: <a href="/api/v1/health">health</a>,
<a href="/api/v1/sessions">sessions</a>, <a href="/api/v1/facets">facets</a> (the README lists every route).</p>
</body></html>
)HTML";

// The viewer's own routes: a session's page (its id may hold dots and slashes), and any other
// extension-less path outside the API (a file name such as /favicon.ico stays a 404).
constexpr const char* kClientRoutes = R"(/(?:sessions/[\s\S]+|(?!api/|v1/|assets/)[^.]*))";

std::string gunzip(const UiAsset& asset) {
  std::string out(asset.size, '\0');
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw ApiError(500, "cannot decompress the viewer's files (zlib)");
  z.next_in = const_cast<unsigned char*>(asset.gzip);
  z.avail_in = static_cast<uInt>(asset.gzip_size);
  z.next_out = reinterpret_cast<unsigned char*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  inflateEnd(&z);
  if (rc != Z_STREAM_END) throw ApiError(500, std::string("the viewer's file ") + asset.path + " is damaged in this binary");
  return out;
}

void send_asset(const UiAsset& asset, const httplib::Request& req, httplib::Response& res) {
  const std::string path = asset.path;
  // The bundle's names carry their content hash: they never change. The index names them.
  res.set_header("Cache-Control", path.rfind("/assets/", 0) == 0 ? "public, max-age=31536000, immutable" : "no-cache");
  res.set_header("ETag", asset.etag);
  res.set_header("Vary", "Accept-Encoding");
  if (req.get_header_value("If-None-Match") == asset.etag) {
    res.status = 304;
    return;
  }
  if (!accepts_gzip(req)) {
    res.set_content(gunzip(asset), asset.mime);
    return;
  }
  res.set_header("Content-Encoding", "gzip");
  // A content provider of known length: httplib compresses set_content() bodies itself when the
  // client accepts gzip, which would compress these bytes twice.
  res.set_content_provider(asset.gzip_size, asset.mime,
                           [&asset](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                             return sink.write(reinterpret_cast<const char*>(asset.gzip) + offset, length);
                           });
}

const UiAsset* find_asset(const std::string& path) {
  for (const UiAsset& a : embedded_ui_assets()) {
    if (path == a.path) return &a;
  }
  return nullptr;
}

const char* mime_of(const std::string& name) {
  const auto dot = name.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "application/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "map" || ext == "json") return "application/json";
  return "application/octet-stream";
}

// --ui-dir: read at each request, so a rebuilt bundle shows on reload.
void send_from_dir(const std::filesystem::path& dir, const std::string& name, httplib::Response& res) {
  // Names come from the URL: one plain file name under assets/, or the index.
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == '/')) {
      throw ApiError(404, "no viewer file " + name);
    }
  }
  if (name.find("..") != std::string::npos) throw ApiError(404, "no viewer file " + name);
  std::ifstream in(dir / name, std::ios::binary);
  if (!in) throw ApiError(404, "no viewer file " + name + " in --ui-dir " + dir.string() + " (build it: node web/build.mjs --out DIR)");
  std::ostringstream text;
  text << in.rdbuf();
  res.set_header("Cache-Control", "no-cache");
  res.set_content(text.str(), mime_of(name));
}

}  // namespace

void add_ui_routes(httplib::Server& http, ServerContext& ctx) {
  const std::filesystem::path dir = ctx.options.ui_dir;
  if (!dir.empty()) {
    const auto index = guarded([dir](const httplib::Request&, httplib::Response& res) { send_from_dir(dir, "index.html", res); });
    http.Get("/", index);
    http.Get(R"(/assets/([A-Za-z0-9._-]+))", guarded([dir](const httplib::Request& req, httplib::Response& res) {
               send_from_dir(dir, "assets/" + req.matches[1].str(), res);
             }));
    http.Get(kClientRoutes, index);
    return;
  }
  const UiAsset* index_asset = find_asset("/index.html");
  if (index_asset == nullptr) {
    http.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kPlaceholderPage, "text/html"); });
    return;
  }
  const auto index = guarded([index_asset](const httplib::Request& req, httplib::Response& res) {
    send_asset(*index_asset, req, res);
  });
  http.Get("/", index);
  http.Get(R"(/assets/[A-Za-z0-9._-]+)", guarded([](const httplib::Request& req, httplib::Response& res) {
             const UiAsset* asset = find_asset(req.path);
             if (asset == nullptr) throw ApiError(404, "no viewer file " + req.path + " (reload the page: the viewer was updated)");
             send_asset(*asset, req, res);
           }));
  http.Get(kClientRoutes, index);
}

}  // namespace synth::tracing::server
