<?php
// opcache.preload script: notes each run in preload.runs and draws from mt_rand() and
// lcg_value(), so that a process forked after it would inherit seeded generators.
file_put_contents(__DIR__ . '/preload.runs', getmypid() . "\n", FILE_APPEND);
mt_rand();
lcg_value();
