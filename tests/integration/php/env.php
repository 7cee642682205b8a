<?php
// Every scalar $_SERVER entry: the FastCGI params and the pool's environment.
$out = [];
foreach ($_SERVER as $k => $v) {
    if (is_scalar($v)) $out[$k] = (string)$v;
}
header('Content-Type: application/json');
echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
