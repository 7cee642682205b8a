<?php
// ?mb=N: N MiB, each MiB a header line "MiB 000042\n" padded with "0123456789abcdef" repeated.
// ?cl=1 announces the length.
$mb = max(0, min(1024, (int)($_GET['mb'] ?? 1)));
header('Content-Type: application/octet-stream');
if (isset($_GET['cl'])) header('Content-Length: ' . ($mb << 20));
for ($i = 0; $i < $mb; $i++) {
    echo str_pad(sprintf("MiB %06d\n", $i), 1 << 20, '0123456789abcdef');
}
