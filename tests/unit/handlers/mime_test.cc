#include "handlers/mime.h"

#include <gtest/gtest.h>

#include <string_view>

namespace askr::handlers {
namespace {

struct Case {
  std::string_view path;
  std::string_view type;
};

class MimeType : public ::testing::TestWithParam<Case> {};

TEST_P(MimeType, ByExtension) {
  EXPECT_EQ(mime_type(GetParam().path), GetParam().type);
}

INSTANTIATE_TEST_SUITE_P(
    Known, MimeType,
    ::testing::Values(
        Case{"/index.html", "text/html; charset=utf-8"}, Case{"/a.htm", "text/html; charset=utf-8"},
        Case{"/INDEX.HTML", "text/html; charset=utf-8"}, Case{"/s.Css", "text/css; charset=utf-8"},
        Case{"/app.js", "text/javascript; charset=utf-8"},
        Case{"/mod.mjs", "text/javascript; charset=utf-8"}, Case{"/d.json", "application/json"},
        Case{"/app.js.map", "application/json"}, Case{"/r.txt", "text/plain; charset=utf-8"},
        Case{"/f.xml", "application/xml"}, Case{"/i.svg", "image/svg+xml"},
        Case{"/i.png", "image/png"}, Case{"/i.jpg", "image/jpeg"}, Case{"/i.JPEG", "image/jpeg"},
        Case{"/i.gif", "image/gif"}, Case{"/i.webp", "image/webp"}, Case{"/i.avif", "image/avif"},
        Case{"/favicon.ico", "image/x-icon"}, Case{"/f.woff", "font/woff"},
        Case{"/f.woff2", "font/woff2"}, Case{"/f.ttf", "font/ttf"}, Case{"/f.otf", "font/otf"},
        Case{"/v.mp4", "video/mp4"}, Case{"/v.webm", "video/webm"}, Case{"/a.mp3", "audio/mpeg"},
        Case{"/a.ogg", "audio/ogg"}, Case{"/a.wav", "audio/wav"}, Case{"/d.pdf", "application/pdf"},
        Case{"/z.zip", "application/zip"}, Case{"/z.tar.gz", "application/gzip"},
        Case{"/m.wasm", "application/wasm"}, Case{"/t.csv", "text/csv; charset=utf-8"},
        Case{"/README.md", "text/markdown; charset=utf-8"},
        Case{"/site.webmanifest", "application/manifest+json"}, Case{"/dir.d/x.png", "image/png"},
        Case{"apng.apng", "image/apng"}, Case{"/p.shtml", "text/html; charset=utf-8"},
        Case{"/r.DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        Case{"/v.mpg", "video/mpeg"}, Case{"/seg.ts", "video/mp2t"},
        Case{"/a.7z", "application/x-7z-compressed"}));

INSTANTIATE_TEST_SUITE_P(Unknown, MimeType,
                         ::testing::Values(Case{"", "application/octet-stream"},
                                           Case{"/", "application/octet-stream"},
                                           Case{"/Makefile", "application/octet-stream"},
                                           Case{"/a.", "application/octet-stream"},
                                           Case{"/a.exe", "application/octet-stream"},
                                           Case{"/a.css.br", "application/octet-stream"},
                                           Case{"/dir.html/file", "application/octet-stream"},
                                           Case{"/dir.png/", "application/octet-stream"},
                                           Case{"/a.verylongextension", "application/octet-stream"},
                                           Case{"/a.htmlx", "application/octet-stream"},
                                           Case{"/a.ht", "application/octet-stream"}));

}  // namespace
}  // namespace askr::handlers
