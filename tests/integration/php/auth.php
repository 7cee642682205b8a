<?php
// The credentials of HTTP authentication as PHP sees them; the body's length shows it was read.
header('Content-Type: application/json');
$out = ['body' => strlen(file_get_contents('php://input'))];
foreach (['REMOTE_USER', 'PHP_AUTH_USER', 'PHP_AUTH_PW', 'PHP_AUTH_DIGEST', 'AUTH_TYPE'] as $k) {
    $out[$k] = array_key_exists($k, $_SERVER) ? $_SERVER[$k] : '(unset)';
}
echo json_encode($out);
