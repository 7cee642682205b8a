// What PHP prints with no request bound (a worker script while it boots and between its
// requests, a preload script): nobody's response, so it goes to the error log, a warning per
// line naming the pool and the worker, as php-fpm logs a child's stray output ("[pool www]
// child 123 said into stdout: ..."). Never sent to a client.
#pragma once

#include <string_view>

namespace askr::worker::sapi {

// The pool named in these lines (askr-worker --pool); none by default.
void set_pool_name(std::string_view name);

// Takes output: each line is logged once it ends; a line longer than kMaxStrayLine bytes is
// logged cut, with its whole size. Control characters are escaped (\xNN), so a line cannot
// pose as another log line.
void stray_output(std::string_view data);

// Logs the line begun and not ended, if any: before a request is bound, and at exit.
void flush_stray_output();

inline constexpr size_t kMaxStrayLine = 1024;  // php-fpm's log_limit

}  // namespace askr::worker::sapi
