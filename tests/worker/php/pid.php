<?php
// After ms milliseconds: this worker's pid and how many requests its connection has carried.
usleep((int)($_GET['ms'] ?? 0) * 1000);
echo getmypid(), ' ', $_SERVER['ASKR_CONNECTION_REQUESTS'] ?? 0, "\n";
