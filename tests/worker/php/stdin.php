<?php
// Reads the body from php://input in pieces: its length and SHA-256.
$in = fopen('php://input', 'rb');
$ctx = hash_init('sha256');
$n = 0;
while (!feof($in)) {
    $chunk = fread($in, 65536);
    if ($chunk === false || $chunk === '') break;
    $n += strlen($chunk);
    hash_update($ctx, $chunk);
}
echo $n, ' ', hash_final($ctx);
