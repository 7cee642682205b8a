<?php
// Writes this worker's pid to the file ?f= names, then sleeps ?s= seconds.
file_put_contents($_GET['f'], getmypid());
sleep((int)($_GET['s'] ?? 1));
echo "slept\n";
