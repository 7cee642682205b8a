#include "handlers/path.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace askr::handlers {
namespace {

using namespace std::string_view_literals;

struct Ok {
  std::string_view raw;
  std::string_view want;
};

class NormalizeOk : public ::testing::TestWithParam<Ok> {};

TEST_P(NormalizeOk, Normalizes) {
  std::string out;
  ASSERT_EQ(normalize_path(GetParam().raw, out), PathError::kNone) << GetParam().raw;
  EXPECT_EQ(out, GetParam().want) << GetParam().raw;
}

INSTANTIATE_TEST_SUITE_P(
    Vectors, NormalizeOk,
    ::testing::Values(Ok{"/", "/"}, Ok{"/index.html", "/index.html"}, Ok{"/a/b/c", "/a/b/c"},
                      Ok{"/a/b/", "/a/b/"}, Ok{"/foo/./bar//baz/", "/foo/bar/baz/"},
                      Ok{"//etc/passwd", "/etc/passwd"}, Ok{"///", "/"}, Ok{"/%41", "/A"},
                      Ok{"/%7e%7E", "/~~"}, Ok{"/a%20b", "/a b"}, Ok{"/a/..", "/"},
                      Ok{"/a/../", "/"}, Ok{"/a/b/..", "/a/"}, Ok{"/a/b/../c", "/a/c"},
                      Ok{"/a/./b/.", "/a/b/"}, Ok{"/.", "/"}, Ok{"/./", "/"},
                      Ok{"/a/%2e%2e/b", "/b"}, Ok{"/a/.%2e/b", "/b"}, Ok{"/a/%2E./b", "/b"},
                      Ok{"/a/%2e/b", "/a/b"}, Ok{"/a/b/%2E%2E/..", "/"}, Ok{"/...", "/..."},
                      Ok{"/..a", "/..a"}, Ok{"/a..", "/a.."}, Ok{"/.hidden", "/.hidden"},
                      Ok{"/a/.../b", "/a/.../b"}, Ok{"/a\\..\\b", "/a\\..\\b"},
                      Ok{"/a%5C..%5Cb", "/a\\..\\b"}, Ok{"/..\\", "/..\\"},
                      Ok{"/%c3%a9", "/\xc3\xa9"}, Ok{"/a?b", "/a?b"}, Ok{"/a//b//..//c", "/a/c"},
                      Ok{"/a/b/c/../../../d", "/d"}, Ok{"/%2525", "/%25"}));

struct Bad {
  std::string_view raw;
  PathError want;
};

class NormalizeBad : public ::testing::TestWithParam<Bad> {};

TEST_P(NormalizeBad, Refuses) {
  std::string out;
  EXPECT_EQ(normalize_path(GetParam().raw, out), GetParam().want) << GetParam().raw;
}

INSTANTIATE_TEST_SUITE_P(
    Traversal, NormalizeBad,
    ::testing::Values(Bad{"/../etc/passwd", PathError::kAboveRoot},
                      Bad{"/%2e%2e/etc/passwd", PathError::kAboveRoot},
                      Bad{"/a/../../b", PathError::kAboveRoot},
                      Bad{"/.%2e/", PathError::kAboveRoot}, Bad{"/%2e./", PathError::kAboveRoot},
                      Bad{"/..", PathError::kAboveRoot}, Bad{"/a/%2E%2E/..", PathError::kAboveRoot},
                      Bad{"/a/b/../../..", PathError::kAboveRoot},
                      Bad{"//../x", PathError::kAboveRoot}, Bad{"/./../x", PathError::kAboveRoot}));

INSTANTIATE_TEST_SUITE_P(
    Malformed, NormalizeBad,
    ::testing::Values(Bad{"", PathError::kNotAbsolute}, Bad{"a/b", PathError::kNotAbsolute},
                      Bad{"%2fetc", PathError::kNotAbsolute},
                      Bad{"http://x/", PathError::kNotAbsolute}, Bad{"/%00", PathError::kNul},
                      Bad{std::string_view("/a\0b", 4), PathError::kNul},
                      Bad{"/%zz", PathError::kBadEscape}, Bad{"/%4", PathError::kBadEscape},
                      Bad{"/a%", PathError::kBadEscape}, Bad{"/%g1", PathError::kBadEscape},
                      Bad{"/%1g", PathError::kBadEscape}, Bad{"/% 1", PathError::kBadEscape}));

// An encoded slash is kept as a NUL, a byte of its segment: it never splits a segment, so
// "..%2f" is no dot-segment and cannot climb, and the path it is in names no file.
INSTANTIATE_TEST_SUITE_P(EncodedSlash, NormalizeOk,
                         ::testing::Values(Ok{"/a%2Fb", "/a\0b"sv}, Ok{"/a%2fb", "/a\0b"sv},
                                           Ok{"/env.php/a%2Fb", "/env.php/a\0b"sv},
                                           Ok{"/dir/..%2fa.txt", "/dir/..\0a.txt"sv},
                                           Ok{"/%2F", "/\0"sv}, Ok{"/a%2F/..", "/"},
                                           Ok{"/a/b%2F../c", "/a/b\0../c"sv},
                                           Ok{"/a%2F..%2F.%2Fb", "/a\0..\0.\0b"sv},
                                           Ok{"/...%2F", "/...\0"sv}, Ok{"/..%2f..%2f/../x", "/x"},
                                           Ok{"/a%2F../../b", "/b"}));

// Taken as '/', as nginx takes it, an encoded slash makes no ".." climb above the root
// either: refused as the plain one is.
INSTANTIATE_TEST_SUITE_P(EncodedSlashAboveRoot, NormalizeBad,
                         ::testing::Values(Bad{"/..%2fetc/passwd", PathError::kAboveRoot},
                                           Bad{"/..%2f..%2fetc/passwd", PathError::kAboveRoot},
                                           Bad{"/%2e%2e%2f", PathError::kAboveRoot},
                                           Bad{"/%2e%2e%2fa.txt", PathError::kAboveRoot},
                                           Bad{"/a%2F..%2F..%2Fb", PathError::kAboveRoot},
                                           Bad{"/a%2Fb/../..%2fx", PathError::kAboveRoot}));

TEST(NormalizePath, OutputNeverLongerThanInputAndReusesCapacity) {
  std::string out;
  out.reserve(64);
  const char* data = out.data();
  ASSERT_EQ(normalize_path("/a//b/./c/../d/", out), PathError::kNone);
  EXPECT_EQ(out, "/a/b/d/");
  EXPECT_EQ(out.data(), data);
}

// Every path of up to 8 bytes made of '/', '.', 'a' and '\\' (plain paths, copied whole, and
// paths with empty or dot segments, rebuilt segment by segment) against a plain reading of the
// rules: split on '/', drop empty and "." segments, ".." drops the one before, a trailing '/'
// (or dot segment) stays.
TEST(NormalizePath, AgreesWithSegmentRulesOnEveryShortPath) {
  constexpr char kBytes[] = {'/', '.', 'a', '\\'};
  auto reference = [](std::string_view raw, std::string& want) {
    std::vector<std::string_view> segs;
    bool dir = false;
    for (size_t i = 1; i <= raw.size();) {
      size_t end = std::min(raw.find('/', i), raw.size());
      std::string_view seg = raw.substr(i, end - i);
      dir = seg.empty() || seg == "." || seg == "..";
      if (seg == "..") {
        if (segs.empty()) return false;
        segs.pop_back();
      } else if (!seg.empty() && seg != ".") {
        segs.push_back(seg);
      }
      i = end + 1;
    }
    want = "/";
    for (size_t k = 0; k < segs.size(); ++k) {
      want.append(segs[k]);
      if (k + 1 < segs.size() || dir) want += '/';
    }
    return true;
  };
  size_t checked = 0;
  for (size_t len = 0; len < 8; ++len) {
    for (size_t n = 0; n < (size_t(1) << (2 * len)); ++n) {
      std::string raw = "/";
      for (size_t k = 0; k < len; ++k) raw += kBytes[(n >> (2 * k)) & 3];
      std::string out, want;
      const bool ok = reference(raw, want);
      const PathError e = normalize_path(raw, out);
      ASSERT_EQ(e == PathError::kNone, ok) << raw;
      if (ok) ASSERT_EQ(out, want) << raw;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 21845u);
}

TEST(NormalizePath, ErrorNamesAreDistinct) {
  EXPECT_STREQ(path_error_name(PathError::kAboveRoot), "path climbs above root");
  EXPECT_STRNE(path_error_name(PathError::kNul), path_error_name(PathError::kBadEscape));
}

// PATH_INFO has its encoded slashes as '/', and what that makes of it resolved, as nginx
// decodes and merges it.
TEST(DecodeSlashes, MakesEncodedSlashesSlashesAndResolvesWhatThatMakes) {
  std::string out = "x";
  ASSERT_EQ(decode_slashes("", out), PathError::kNone);
  EXPECT_EQ(out, "");
  const std::pair<std::string_view, std::string_view> ok[] = {
      {"/a/b", "/a/b"},      {"/a\0b"sv, "/a/b"},     {"/a\0b\0"sv, "/a/b/"},
      {"/a\0\0b"sv, "/a/b"}, {"/a\0..\0b"sv, "/b"},   {"/a\0.\0b"sv, "/a/b"},
      {"/a/b\0.."sv, "/a/"}, {"/..a\0b"sv, "/..a/b"}, {"/x%2Fy\0z"sv, "/x%2Fy/z"},
  };
  for (const auto& [part, want] : ok) {
    ASSERT_EQ(decode_slashes(part, out), PathError::kNone) << part;
    EXPECT_EQ(out, want) << part;
  }
  EXPECT_EQ(decode_slashes("/..\0a"sv, out), PathError::kAboveRoot);
  EXPECT_EQ(decode_slashes("/a\0..\0..\0etc"sv, out), PathError::kAboveRoot);
}

TEST(EncodedPath, KeepsPathCharactersAndEncodesTheRest) {
  std::string out = "x";
  append_encoded_path("/a-b._~!$&'()*+,;=:@/Z9", out);
  EXPECT_EQ(out, "x/a-b._~!$&'()*+,;=:@/Z9");
  out.clear();
  append_encoded_path("/sp ace/%?#\"\\\x7f\xc3\xa9\x01", out);
  EXPECT_EQ(out, "/sp%20ace/%25%3F%23%22%5C%7F%C3%A9%01");
  out.clear();
  append_encoded_path("/a\0b"sv, out);  // where the request had an encoded slash
  EXPECT_EQ(out, "/a%2Fb");
}

TEST(EncodedPath, DecodesBackToThePath) {
  const std::string_view path = "/dir with %/\xff\x80/?#[]/a\0b"sv;
  std::string encoded, decoded;
  append_encoded_path(path, encoded);
  ASSERT_EQ(normalize_path(encoded, decoded), PathError::kNone);
  EXPECT_EQ(decoded, path);
}

}  // namespace
}  // namespace askr::handlers
