// mbstring's current encodings and substitute character, which its request start sets back from
// the ini settings: kept as the worker script left them when it started serving, and put back
// after a worker-mode request that changed them. In C, as mbstring's own header (the real
// layout of its globals) is C only.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// The mbstring module's globals, or NULL when it is not loaded; found in the module registry
// (a module built as a shared extension does not export them).
void* askr_mbstring_globals(void);
// Copies what restore puts back; false (nothing kept) without mbstring or without memory.
int askr_mbstring_boot(void* globals);
void askr_mbstring_restore(void* globals);
void askr_mbstring_free(void);

#ifdef __cplusplus
}
#endif
