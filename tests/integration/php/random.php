<?php
// "PID MT_RAND LCG RANDOM_BYTES" from this worker, then ?sleep=S seconds of holding it.
echo getmypid(), ' ', mt_rand(), ' ', lcg_value(), ' ', bin2hex(random_bytes(8)), "\n";
usleep((int)(($_GET['sleep'] ?? 0) * 1000000));
