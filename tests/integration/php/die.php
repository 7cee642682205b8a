<?php
// The worker dies in the middle of its response.
header('Content-Type: text/plain');
echo "partial\n";
flush();
usleep(200000);
posix_kill(getmypid(), 9);
echo "never\n";
