<?php
// Waits for an exclusive lock on the file ?f= (held by the test), then says whether it got it.
// A signal arriving meanwhile must not interrupt the wait (SA_RESTART).
$fp = fopen($_GET['f'], 'c');
$t0 = microtime(true);
$ok = flock($fp, LOCK_EX);
printf("%s after %.1f s\n", $ok ? 'locked' : 'flock failed', microtime(true) - $t0);
