<?php
// A FrankenPHP worker script, as its documentation writes them.
$n = 0;
$handler = static function () use (&$n) {
    $n++;
    echo 'frankenphp ', $n, ' ', $_GET['q'] ?? '';
};
for ($running = true; $running;) {
    $running = \frankenphp_handle_request($handler);
    gc_collect_cycles();
}
