// The web console's files, embedded in the binary at build time (src/console/web/, bundled by
// esbuild, written into a C++ source by scripts/embed_console.py): http serves them at / and
// /ui/ unless `serve --disable-ui`.
#pragma once

#include <string_view>

namespace riffle::console {

struct Asset {
  std::string_view content_type;
  std::string_view body;
  std::string_view gzipped;  // the same bytes, gzip-compressed
};

// The file served at `path` ("/" is the console's page), or null.
const Asset* Find(std::string_view path);

// The Content-Security-Policy the console is served with: its own files only, no inline
// script or style, no other origin.
inline constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

}  // namespace riffle::console
