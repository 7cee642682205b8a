#include "modes/extension_state.h"

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "sapi/php_headers.h"  // first: PHP's own headers come after php.h

#include "ext/libxml/php_libxml.h"  // and libxml2's: its last error
#include "ext/standard/basic_functions.h"
#include "ext/standard/file.h"
#include "modes/mbstring_state.h"
#include "sapi/functions.h"
#include "zend_smart_str.h"

namespace askr::worker::modes {
namespace {

// A module's globals (those of a module built as a shared extension are not exported), through
// its module entry; nullptr when the module is not loaded.
template <class Globals>
Globals* module_globals(std::string_view name) {
  auto* m = static_cast<zend_module_entry*>(
      zend_hash_str_find_ptr(&module_registry, name.data(), name.size()));
  return m ? static_cast<Globals*>(m->globals_ptr) : nullptr;
}

// Calls PHP function `name` with `argc` arguments; its result in `ret` (UNDEF: none, or the
// function is missing). The caller releases `ret`.
void call(std::string_view name, zval* ret, uint32_t argc = 0, zval* argv = nullptr) {
  ZVAL_UNDEF(ret);
  if (!zend_hash_str_exists(CG(function_table), name.data(), name.size())) return;
  zval fn;
  ZVAL_STRINGL(&fn, name.data(), name.size());
  if (call_user_function(CG(function_table), nullptr, &fn, ret, argc, argv) != SUCCESS) {
    ZVAL_UNDEF(ret);
  }
  zval_ptr_dtor(&fn);
}

void call_ignoring_result(std::string_view name, zval* arg) {
  zval ret;
  call(name, &ret, 1, arg);
  zval_ptr_dtor(&ret);
}

// ---- mbstring ----------------------------------------------------------------------------------
//
// mb_internal_encoding(), mb_http_output(), mb_substitute_character() and mb_detect_order() set
// MBSTRG(current_*), which the module's request start sets back from the ini settings;
// mb_regex_encoding() sets the regex globals' current encoding, which its request shutdown sets
// back. Only the globals' fields that come before the HAVE_MBREGEX part of the struct are used:
// libphp's headers do not say whether the module was built with it (Debian's is).

// The name mb_regex_encoding() gave at boot (UNDEF: no mbregex); the rest is mbstring_state.c's.
struct MbState {
  void* globals = nullptr;
  zval regex_encoding{};
};

MbState mb;

void boot_mbstring() {
  mb.globals = askr_mbstring_globals();
  if (!askr_mbstring_boot(mb.globals)) {
    mb.globals = nullptr;
    return;
  }
  call("mb_regex_encoding", &mb.regex_encoding);
  if (Z_TYPE(mb.regex_encoding) != IS_STRING) {
    zval_ptr_dtor(&mb.regex_encoding);
    ZVAL_UNDEF(&mb.regex_encoding);
  }
}

void restore_mbstring() {
  if (!mb.globals) return;
  askr_mbstring_restore(mb.globals);
  if (!Z_ISUNDEF(mb.regex_encoding)) call_ignoring_result("mb_regex_encoding", &mb.regex_encoding);
}

// ---- libxml ------------------------------------------------------------------------------------
//
// Its request end turns internal errors off and drops the errors collected, the last error, the
// external entity loader and the streams context; its request start enables the entity loader.

struct XmlState {
  zend_libxml_globals* globals = nullptr;
  bool internal_errors = false;
  bool loader_disabled = false;
  zval loader{};           // the external entity loader's callable (UNDEF: none)
  zval streams_context{};  // libxml_set_streams_context()'s (UNDEF: none)
};

XmlState xml;

void boot_libxml() {
  auto* g = module_globals<zend_libxml_globals>("libxml");
  xml.globals = g;
  if (!g) return;
  zval ret;
  call("libxml_use_internal_errors", &ret);
  xml.internal_errors = Z_TYPE(ret) == IS_TRUE;
  zval_ptr_dtor(&ret);
  xml.loader_disabled = g->entity_loader_disabled;
  if (ZEND_FCI_INITIALIZED(g->entity_loader.fci)) {
    ZVAL_COPY(&xml.loader, &g->entity_loader.fci.function_name);
  }
  if (!Z_ISUNDEF(g->stream_context)) ZVAL_COPY(&xml.streams_context, &g->stream_context);
}

void restore_libxml_settings() {
  zend_libxml_globals* g = xml.globals;
  zval arg;
  ZVAL_BOOL(&arg, xml.internal_errors);
  call_ignoring_result("libxml_use_internal_errors", &arg);
  g->entity_loader_disabled = xml.loader_disabled;
  if (!Z_ISUNDEF(xml.loader) || ZEND_FCI_INITIALIZED(g->entity_loader.fci)) {
    ZVAL_NULL(&arg);
    call_ignoring_result("libxml_set_external_entity_loader",
                         Z_ISUNDEF(xml.loader) ? &arg : &xml.loader);
  }
  if (!Z_ISUNDEF(g->stream_context)) zval_ptr_dtor(&g->stream_context);
  ZVAL_UNDEF(&g->stream_context);
  if (!Z_ISUNDEF(xml.streams_context)) ZVAL_COPY(&g->stream_context, &xml.streams_context);
}

// The errors a request collected (libxml_get_errors()) and its last one are its own.
void forget_libxml_errors() {
  zend_libxml_globals* g = xml.globals;
  if (g->error_list && zend_llist_count(g->error_list) > 0) zend_llist_clean(g->error_list);
  if (xmlGetLastError()) xmlResetLastError();
}

// ---- stream wrappers and filters ---------------------------------------------------------------
//
// stream_wrapper_register(), stream_wrapper_unregister('http') and stream_filter_register()
// change a request's own copy of the wrappers' (and filters') table, which PHP's request end
// drops: under php-fpm each request starts with PHP's wrappers, and registers its own again.
// User filters are also named in BG(user_filter_map), which the request end empties.

struct StreamsState {
  HashTable* wrappers = nullptr;          // FG(stream_wrappers) at boot (nullptr: PHP's own)
  HashTable* filters = nullptr;           // FG(stream_filters) likewise
  std::vector<std::string> user_filters;  // BG(user_filter_map)'s names at boot
};

StreamsState streams;

// A copy of `from`, as PHP makes its per-request copy: the same pointers, no destructor.
HashTable* copy_table(HashTable* from) {
  auto* t = static_cast<HashTable*>(emalloc(sizeof(HashTable)));
  zend_hash_init(t, zend_hash_num_elements(from), nullptr, nullptr, 0);
  zend_hash_copy(t, from, nullptr);
  return t;
}

void free_table(HashTable*& t) {
  if (!t) return;
  zend_hash_destroy(t);
  efree(t);
  t = nullptr;
}

void boot_streams() {
  if (FG(stream_wrappers)) streams.wrappers = copy_table(FG(stream_wrappers));
  if (FG(stream_filters)) streams.filters = copy_table(FG(stream_filters));
  if (!BG(user_filter_map)) return;
  zend_string* name;
  ZEND_HASH_MAP_FOREACH_STR_KEY(BG(user_filter_map), name) {
    if (name) streams.user_filters.emplace_back(ZSTR_VAL(name), ZSTR_LEN(name));
  }
  ZEND_HASH_FOREACH_END();
}

bool booted_user_filter(const zend_string* name) {
  for (const std::string& f : streams.user_filters) {
    if (f == std::string_view(ZSTR_VAL(name), ZSTR_LEN(name))) return true;
  }
  return false;
}

// A user wrapper the request registered stays allocated (a resource of the script's request)
// until the script ends: a few dozen bytes each time.
void restore_streams() {
  free_table(FG(stream_wrappers));
  if (streams.wrappers) FG(stream_wrappers) = copy_table(streams.wrappers);
  free_table(FG(stream_filters));
  if (streams.filters) FG(stream_filters) = copy_table(streams.filters);
  HashTable* map = BG(user_filter_map);
  if (!map) return;
  std::vector<zend_string*> added;
  zend_string* name;
  ZEND_HASH_MAP_FOREACH_STR_KEY(map, name) {
    if (name && !booted_user_filter(name)) added.push_back(name);
  }
  ZEND_HASH_FOREACH_END();
  for (zend_string* n : added) zend_hash_del(map, n);  // its destructor frees the entry
}

}  // namespace

void boot_extension_state() {
  boot_mbstring();
  boot_libxml();
  boot_streams();
  sapi::take_mbstring_set();  // what the script set while booting stays
  sapi::take_libxml_set();
  sapi::take_streams_set();
}

void restore_extension_state() {
  if (sapi::take_streams_set()) restore_streams();
  if (sapi::take_mbstring_set()) {
    restore_mbstring();
    sapi::take_mbstring_set();  // set by restore_mbstring() itself
  }
  if (!xml.globals) return;
  if (sapi::take_libxml_set()) {
    restore_libxml_settings();
    sapi::take_libxml_set();
  }
  forget_libxml_errors();
}

void free_extension_state() {
  free_table(streams.wrappers);
  free_table(streams.filters);
  askr_mbstring_free();
  for (zval* kept : {&mb.regex_encoding, &xml.loader, &xml.streams_context}) {
    zval_ptr_dtor(kept);
    ZVAL_UNDEF(kept);
  }
}

}  // namespace askr::worker::modes
