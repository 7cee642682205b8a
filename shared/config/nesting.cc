#include "shared/config/nesting.h"

#include <vector>

namespace askr::config {
namespace {

// The document read a byte at a time, with the position of the next byte.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool end() const { return at_ >= text_.size(); }
  char peek(size_t ahead = 0) const {
    return at_ + ahead < text_.size() ? text_[at_ + ahead] : '\0';
  }
  void next() {
    if (text_[at_] == '\n') {
      ++line_;
      column_ = 1;
    } else if ((static_cast<unsigned char>(text_[at_]) & 0xC0) != 0x80) {
      ++column_;  // a UTF-8 continuation byte is part of the code point before it
    }
    ++at_;
  }
  bool starts(std::string_view s) const { return text_.substr(at_, s.size()) == s; }
  uint32_t line() const { return line_; }
  uint32_t column() const { return column_; }

  // Past a string that starts here ('"' or '\''), multi-line ones included. A single-line one
  // stops at its line's end, where toml++ reports it.
  void skip_string() {
    const char quote = peek();
    const std::string_view triple = quote == '"' ? "\"\"\"" : "'''";
    if (starts(triple)) {
      for (int i = 0; i < 3; ++i) next();
      while (!end() && !starts(triple)) {
        if (quote == '"' && peek() == '\\' && peek(1) != '\0') next();
        next();
      }
      while (peek() == quote) next();  // the closing quotes, and up to two before them
      return;
    }
    next();
    while (!end() && peek() != quote && peek() != '\n') {
      if (quote == '"' && peek() == '\\' && peek(1) != '\0' && peek(1) != '\n') next();
      next();
    }
    if (peek() == quote) next();
  }
  void skip_comment() {
    while (!end() && peek() != '\n') next();
  }

 private:
  std::string_view text_;
  size_t at_ = 0;
  uint32_t line_ = 1, column_ = 1;
};

class NestingCheck {
 public:
  NestingCheck(std::string_view text, size_t max_depth) : in_(text), max_(max_depth) {}
  std::optional<NestingError> run();

 private:
  struct Open {
    char close;    // ']' or '}'
    size_t depth;  // the level of the inline array or table itself
  };

  bool deeper(size_t depth) {
    if (depth <= max_ || error_) return false;
    error_ = NestingError{in_.line(), in_.column(),
                          "tables and arrays nested more than " + std::to_string(max_) +
                              " levels deep (each part of a dotted key is one level)"};
    return true;
  }
  // A key from here to `stop` (consumed) or the line's end, each part one level below `depth`:
  // the level of its value.
  size_t key(size_t depth, char stop);
  void header();
  void value(char c);

  Cursor in_;
  size_t max_;
  std::optional<NestingError> error_;
  std::vector<Open> open_;
  size_t table_ = 0;        // the level of the last [table] header
  bool want_key_ = true;    // a key comes next (else a value)
  size_t value_depth_ = 0;  // the level of the value that comes next
};

size_t NestingCheck::key(size_t depth, char stop) {
  if (deeper(++depth)) return depth;
  while (!in_.end() && in_.peek() != '\n') {
    const char c = in_.peek();
    if (c == stop) {
      in_.next();
      break;
    }
    if (c == '"' || c == '\'') {
      in_.skip_string();
      continue;
    }
    if (c == '.' && deeper(++depth)) return depth;
    in_.next();
  }
  return depth;
}

// "[a.b]" or "[[a.b]]": the keys that follow are its table's.
void NestingCheck::header() {
  in_.next();
  const bool array = in_.peek() == '[';
  if (array) in_.next();
  table_ = key(0, ']');
  if (array) deeper(++table_);  // the array's tables are one level below it
}

void NestingCheck::value(char c) {
  if (c == '"' || c == '\'') return in_.skip_string();
  if (c == '[' || c == '{') {
    if (deeper(value_depth_)) return;
    open_.push_back({c == '[' ? ']' : '}', value_depth_});
    want_key_ = c == '{';
    ++value_depth_;  // an array's elements
  } else if ((c == ']' || c == '}') && !open_.empty() && open_.back().close == c) {
    open_.pop_back();
  } else if (c == ',' && !open_.empty()) {
    want_key_ = open_.back().close == '}';
    value_depth_ = open_.back().depth + 1;
  }
  in_.next();
}

std::optional<NestingError> NestingCheck::run() {
  while (!in_.end() && !error_) {
    const char c = in_.peek();
    if (c == '#') {
      in_.skip_comment();
    } else if (c == '\n') {
      if (open_.empty()) want_key_ = true;  // a top-level value ends with its line
      in_.next();
    } else if (c == ' ' || c == '\t' || c == '\r') {
      in_.next();
    } else if (!want_key_) {
      value(c);
    } else if (open_.empty() && c == '[') {
      header();
    } else if (c == '}' && !open_.empty()) {  // "{}", or "{ a = 1, }" that toml++ refuses
      open_.pop_back();
      want_key_ = false;
      in_.next();
    } else {
      value_depth_ = key(open_.empty() ? table_ : open_.back().depth, '=');
      want_key_ = false;
    }
  }
  return error_;
}

}  // namespace

std::optional<NestingError> check_nesting(std::string_view text, size_t max_depth) {
  return NestingCheck(text, max_depth).run();
}

}  // namespace askr::config
