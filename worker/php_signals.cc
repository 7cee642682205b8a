#include "php_signals.h"

#include <php.h>
#include <zend_signal.h>

#include "process.h"

namespace askr::worker {

void keep_stop_handlers_in_requests() {
#ifdef ZEND_SIGNALS
  SIGG(reset) = 0;  // zend_signal_activate() leaves the handlers as they are
#endif
  set_stop_handlers();
}

}  // namespace askr::worker
