#include "mbstring_state.h"

#include <stdlib.h>
#include <string.h>

#include "ext/mbstring/mbstring.h"
#include "php.h"

static struct {
  const mbfl_encoding* internal;
  const mbfl_encoding* http_output;
  int illegal_mode;
  int illegal_substchar;
  const mbfl_encoding** detect_order;  // malloc()ed: lives as long as the process
  size_t detect_order_size;
} boot;

void* askr_mbstring_globals(void) {
  zend_module_entry* m =
      zend_hash_str_find_ptr(&module_registry, "mbstring", sizeof "mbstring" - 1);
  return m ? m->globals_ptr : NULL;
}

int askr_mbstring_boot(void* globals) {
  zend_mbstring_globals* g = globals;
  if (!g) return 0;
  boot.internal = g->current_internal_encoding;
  boot.http_output = g->current_http_output_encoding;
  boot.illegal_mode = g->current_filter_illegal_mode;
  boot.illegal_substchar = g->current_filter_illegal_substchar;
  size_t n = g->current_detect_order_list_size;
  free(boot.detect_order);
  boot.detect_order = malloc((n ? n : 1) * sizeof *boot.detect_order);
  if (!boot.detect_order) return 0;
  if (n) memcpy(boot.detect_order, g->current_detect_order_list, n * sizeof *boot.detect_order);
  boot.detect_order_size = n;
  return 1;
}

void askr_mbstring_restore(void* globals) {
  zend_mbstring_globals* g = globals;
  if (!g || !boot.detect_order) return;
  g->current_internal_encoding = boot.internal;
  g->current_http_output_encoding = boot.http_output;
  g->current_filter_illegal_mode = boot.illegal_mode;
  g->current_filter_illegal_substchar = boot.illegal_substchar;
  // mb_detect_order() freed the list in place and put its own (emalloc()ed) there.
  if (g->current_detect_order_list) efree(ZEND_VOIDP(g->current_detect_order_list));
  size_t n = boot.detect_order_size;
  const mbfl_encoding** list = safe_emalloc(n ? n : 1, sizeof *list, 0);
  if (n) memcpy(list, boot.detect_order, n * sizeof *list);
  g->current_detect_order_list = list;
  g->current_detect_order_list_size = n;
}

void askr_mbstring_free(void) {
  free(boot.detect_order);
  boot.detect_order = NULL;
}
