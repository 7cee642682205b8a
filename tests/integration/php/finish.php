<?php
// Answers at once with the pid of the worker (fastcgi_finish_request()), then works on for s
// seconds, as a framework's terminate listeners do.
echo getmypid(), "\n";
fastcgi_finish_request();
sleep((int)($_GET['s'] ?? 1));
