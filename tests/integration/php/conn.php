<?php
// The worker process that answered, and how many requests its FastCGI connection has carried.
echo getmypid(), ' ', $_SERVER['ASKR_CONNECTION_REQUESTS'] ?? 0, "\n";
