<?php
// Keeps ?mb= MiB more alive for the life of the process (worker mode), to cross memory_limit.
$GLOBALS['hoard'][] = str_repeat('x', ((int)($_GET['mb'] ?? 8)) << 20);
echo getmypid(), "\n";
