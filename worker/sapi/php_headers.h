// PHP's headers, in the order they need, for the files that talk to the engine. Include it
// before any other header of PHP's, and before shared/base/log.h.
#pragma once

#include "php.h"  // first: the others assume it

#include "SAPI.h"
extern "C" {  // head.h declares C functions without saying so
#include "ext/standard/head.h"
}
#include "php_main.h"
#include "php_output.h"
#include "php_variables.h"
#include "zend_exceptions.h"

// PHP's headers bring <syslog.h>, whose LOG_INFO and LOG_DEBUG are also the names of two of
// Askr's log macros: here Askr's win.
#undef LOG_INFO
#undef LOG_DEBUG
#include "shared/base/log.h"
