<?php
// ?spin=S: spins on the CPU for S seconds (max_execution_time counts CPU time, not sleep), then
// says so; without it, answers at once.
if (isset($_GET['spin'])) {
    $end = microtime(true) + (float) $_GET['spin'];
    $n = 0;
    while (microtime(true) < $end) {
        ++$n;
    }
    echo "spun\n";
    return;
}
echo "ok\n";
