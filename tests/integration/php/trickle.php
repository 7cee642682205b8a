<?php
// Writes a line every 200 ms, n times (default 50: ten seconds), each flushed at once.
$n = (int) ($_GET['n'] ?? 50);
for ($i = 0; $i < $n; $i++) {
    echo "line $i\n";
    flush();
    usleep(200000);
}
echo "done\n";
