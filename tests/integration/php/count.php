<?php
// Counts its runs: one byte per request appended to count.txt beside it (the HTTP/2 attack
// tests check how many requests reached PHP).
file_put_contents(__DIR__ . '/count.txt', '.', FILE_APPEND | LOCK_EX);
echo "counted\n";
