// `askr-proxy doctor`: what this machine offers Askr, and what `auto` settings would pick.
#pragma once

namespace askr {

// Prints the report to stdout; returns the process exit code.
int run_doctor();

}  // namespace askr
