<?php
// Echoes what PHP received, as JSON.
header('Content-Type: application/json');
$server = [];
foreach (['REQUEST_METHOD', 'QUERY_STRING', 'REQUEST_URI', 'SCRIPT_NAME', 'SCRIPT_FILENAME',
          'PHP_SELF', 'PATH_INFO', 'HTTP_HOST', 'HTTP_X_CUSTOM', 'ASKR_TEST', 'SERVER_PROTOCOL',
          'CONTENT_TYPE', 'CONTENT_LENGTH', 'REMOTE_ADDR', 'DOCUMENT_ROOT', 'PHP_AUTH_USER',
          'PHP_AUTH_PW'] as $k) {
    if (isset($_SERVER[$k])) $server[$k] = $_SERVER[$k];
}
echo json_encode([
    'sapi' => PHP_SAPI,
    'get' => $_GET,
    'post' => $_POST,
    'cookie' => $_COOKIE,
    'request' => $_REQUEST,
    'server' => $server,
    'request_time' => is_int($_SERVER['REQUEST_TIME'] ?? null),
    'request_time_float' => is_float($_SERVER['REQUEST_TIME_FLOAT'] ?? null),
    'getenv_method' => getenv('REQUEST_METHOD'),
    'headers' => getallheaders(),
    'input' => file_get_contents('php://input'),
]);
