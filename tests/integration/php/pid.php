<?php
// The worker process that answered, and how many requests this process has run this script
// (a global: it persists in worker mode only).
$GLOBALS['askr_test_runs'] = ($GLOBALS['askr_test_runs'] ?? 0) + 1;
echo getmypid(), ' ', $GLOBALS['askr_test_runs'], "\n";
