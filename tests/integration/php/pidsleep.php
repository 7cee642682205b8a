<?php
// Appends this worker's pid to file f, then sleeps s seconds and says who answered.
file_put_contents($_GET['f'], getmypid() . "\n", FILE_APPEND);
sleep((int)($_GET['s'] ?? 1));
echo getmypid(), "\n";
