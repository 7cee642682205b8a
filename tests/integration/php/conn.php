<?php
// After ms milliseconds: the worker process that answered, and how many requests its FastCGI
// connection has carried.
usleep((int)($_GET['ms'] ?? 0) * 1000);
echo getmypid(), ' ', $_SERVER['ASKR_CONNECTION_REQUESTS'] ?? 0, "\n";
