<?php
// The request's protocol and HTTP_* parameters, as PHP sees them.
header('Content-Type: application/json');
$o = ['SERVER_PROTOCOL' => $_SERVER['SERVER_PROTOCOL'] ?? '',
      'REQUEST_SCHEME' => $_SERVER['REQUEST_SCHEME'] ?? '', 'HTTPS' => $_SERVER['HTTPS'] ?? ''];
foreach ($_SERVER as $k => $v) {
    if (str_starts_with($k, 'HTTP_')) $o[$k] = $v;
}
echo json_encode($o, JSON_UNESCAPED_SLASHES);
