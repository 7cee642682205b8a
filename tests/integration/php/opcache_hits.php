<?php
// "PID HITS CACHED": the worker that answered, how many OPcache hits opcache_target.php has had
// in the cache this worker sees (0: compiled by this request; -1: not cached) and how many
// scripts that cache holds. ?sleep=S holds the worker S seconds after looking, so that
// concurrent requests land on different workers.
require __DIR__ . '/opcache_target.php';
$status = opcache_get_status(true);
$target = $status['scripts'][__DIR__ . '/opcache_target.php'] ?? null;
echo getmypid(), ' ', $target ? $target['hits'] : -1, ' ',
    $status['opcache_statistics']['num_cached_scripts'], "\n";
usleep((int)(($_GET['sleep'] ?? 0) * 1000000));
