<?php
// Reads the raw request body in pieces; reports its length and SHA-256.
$in = fopen('php://input', 'rb');
$h = hash_init('sha256');
$n = 0;
while (!feof($in)) {
    $c = fread($in, 65536);
    if ($c === false || $c === '') break;
    $n += strlen($c);
    hash_update($h, $c);
}
header('Content-Type: application/json');
echo json_encode([
    'length' => $n,
    'sha256' => hash_final($h),
    'CONTENT_LENGTH' => $_SERVER['CONTENT_LENGTH'] ?? '',
    'CONTENT_TYPE' => $_SERVER['CONTENT_TYPE'] ?? '',
], JSON_UNESCAPED_SLASHES);
