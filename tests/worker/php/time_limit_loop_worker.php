<?php
// time_limit.php as a worker-mode handler, with work in the loop between requests:
// ?loop_spin=S spins there for S seconds of CPU time (what max_execution_time counts) after
// the answer, before asking for the next request.
function cpu_seconds(): float {
    $r = getrusage();
    return $r['ru_utime.tv_sec'] + $r['ru_utime.tv_usec'] / 1e6
        + $r['ru_stime.tv_sec'] + $r['ru_stime.tv_usec'] / 1e6;
}
$loop_spin = 0.0;
$handler = static function () use (&$loop_spin): void {
    $loop_spin = (float) ($_GET['loop_spin'] ?? 0);
    require __DIR__ . '/time_limit.php';
};
while (askr_handle_request($handler)) {
    for ($end = cpu_seconds() + $loop_spin; cpu_seconds() < $end;) {
    }
}
