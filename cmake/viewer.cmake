# The browser viewer (web/): `npm ci` of its pinned packages into the build folder, esbuild's
# bundle, and the bundle gzip-compressed into a generated .cpp of synth_tracing_server. Without
# Node.js and npm the server keeps a placeholder page and everything else builds.
option(SYNTH_TRACING_BUILD_VIEWER "Build the browser viewer into synth-trace serve (needs Node.js and npm)" ON)
find_program(SYNTH_TRACING_NODE node)
find_program(SYNTH_TRACING_NPM npm)

if(SYNTH_TRACING_BUILD_VIEWER AND SYNTH_TRACING_NODE AND SYNTH_TRACING_NPM)
  set(_web ${PROJECT_SOURCE_DIR}/web)
  set(_out ${PROJECT_BINARY_DIR}/web)
  file(MAKE_DIRECTORY ${_out})
  file(GLOB_RECURSE _web_sources CONFIGURE_DEPENDS ${_web}/src/*)
  # npm ci here, not in web/: several build folders (sanitizer builds) must not race on one
  # node_modules. npm writes node_modules/.package-lock.json last, so it marks a finished install.
  add_custom_command(
    OUTPUT ${_out}/node_modules/.package-lock.json
    COMMAND ${CMAKE_COMMAND} -E copy ${_web}/package.json ${_web}/package-lock.json ${_out}
    # --ignore-scripts: esbuild's binary comes in its platform package (@esbuild/linux-x64).
    COMMAND ${SYNTH_TRACING_NPM} ci --no-audit --no-fund --ignore-scripts --loglevel=error
    WORKING_DIRECTORY ${_out}
    DEPENDS ${_web}/package.json ${_web}/package-lock.json
    COMMENT "viewer: npm ci of web/package-lock.json (configure with -DSYNTH_TRACING_BUILD_VIEWER=OFF to build without it)"
    VERBATIM)
  add_custom_command(
    OUTPUT ${_out}/ui_assets.cpp
    COMMAND ${SYNTH_TRACING_NODE} ${_web}/build.mjs --modules ${_out}/node_modules --out ${_out}/dist
            --cpp ${_out}/ui_assets.cpp
    DEPENDS ${_web_sources} ${_web}/build.mjs ${_out}/node_modules/.package-lock.json
    COMMENT "viewer: bundling web/src with esbuild and embedding it"
    VERBATIM)
  target_sources(synth_tracing_server PRIVATE ${_out}/ui_assets.cpp)
  set(SYNTH_TRACING_VIEWER_BUILT ON)
  message(STATUS "viewer: built into synth-trace serve (web/, Node.js ${SYNTH_TRACING_NODE})")
else()
  if(NOT SYNTH_TRACING_BUILD_VIEWER)
    message(STATUS "viewer: off (SYNTH_TRACING_BUILD_VIEWER=OFF): synth-trace serve shows a placeholder page at /")
  else()
    message(WARNING "viewer: Node.js or npm not found, so the browser viewer is not built: synth-trace serve shows a "
                    "placeholder page at / (the API works). Install them (scripts/setup.sh) and configure again.")
  endif()
  target_sources(synth_tracing_server PRIVATE ${PROJECT_SOURCE_DIR}/src/server/ui_assets_none.cpp)
  set(SYNTH_TRACING_VIEWER_BUILT OFF)
endif()
# routes_ui.cpp inflates the embedded files for clients without gzip.
target_link_libraries(synth_tracing_server PRIVATE ZLIB::ZLIB)
