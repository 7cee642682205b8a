<?php
// Worker-mode entry that works on after each answer, in the loop, as the README suggests:
// ?after=S sleeps S seconds there before taking the next request, ?after_ms=MS milliseconds.
$after = 0;
$after_ms = 0;
$handler = static function () use (&$after, &$after_ms): void {
    $after = (int) ($_GET['after'] ?? 0);
    $after_ms = (int) ($_GET['after_ms'] ?? 0);
    require $_SERVER['SCRIPT_FILENAME'];
};
while (askr_handle_request($handler)) {
    sleep($after);
    usleep($after_ms * 1000);
}
