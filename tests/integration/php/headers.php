<?php
$redirect = $_GET['redirect'] ?? '';
if ($redirect === '1') {
    header('Location: /x');  // PHP adds "Status: 302 Found" itself
    exit;
}
if ($redirect === 'line') {
    // The same with a status line naming 200: php-fpm sends no Status line for a 200.
    header('Location: /x');
    header('HTTP/1.1 200 OK');
    exit;
}
if ($redirect === 'raw') {
    // Location without a Status line: the server must answer 302.
    header('Location: /x');
    http_response_code(200);
    exit;
}
http_response_code(201);
header('X-Custom: custom-value');
setcookie('first', 'one');
setcookie('second', 'two', ['path' => '/', 'httponly' => true]);
echo "created\n";
