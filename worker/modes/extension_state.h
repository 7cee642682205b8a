// Extension state that PHP's request shutdown resets but that outlives a worker-mode request,
// since the worker script's PHP request goes on: mbstring's current encodings, libxml's error
// mode, errors and loaders, and the stream wrappers and filters a request registered. Put back
// after each request to what the script left when it started serving, as askr-worker does for
// ini settings, the umask or the time zone.
#pragma once

namespace askr::worker::modes {

// Remembers the state as the worker script left it when it started serving (its first
// askr_handle_request()).
void boot_extension_state();

// Forgets what the request changed: at no cost but a few loads where it called none of the
// watched setters (sapi::take_mbstring_set(), sapi::take_libxml_set(), sapi::take_streams_set()).
// Calls PHP functions: run within the worker script's request, where a bailout is caught.
void restore_extension_state();

// Releases what boot_extension_state() kept (PHP's memory), before the script's request ends.
void free_extension_state();

}  // namespace askr::worker::modes
