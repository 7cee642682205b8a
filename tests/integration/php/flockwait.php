<?php
// Waits for an exclusive lock on the file ?f= (held by the test), then says whether it got it.
// A signal arriving meanwhile must not interrupt the wait (SA_RESTART). With ?started=, first
// appends this worker's pid to that file, so that the test knows the request holds its worker.
$fp = fopen($_GET['f'], 'c');
if (isset($_GET['started'])) file_put_contents($_GET['started'], getmypid() . "\n", FILE_APPEND);
$t0 = microtime(true);
$ok = flock($fp, LOCK_EX);
printf("%s after %.1f s\n", $ok ? 'locked' : 'flock failed', microtime(true) - $t0);
