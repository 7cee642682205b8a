<?php
// A worker script that ends at once, successfully, every time: each start leaves its pid in
// exit0.starts next to it.
file_put_contents(__DIR__ . '/exit0.starts', getmypid() . "\n", FILE_APPEND);
exit(0);
