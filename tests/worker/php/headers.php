<?php
http_response_code(201);
header('X-One: 1');
header('X-Multi: a');
header('X-Multi: b', false);
setcookie('c1', 'v1');
setcookie('c2', 'v2', ['path' => '/p', 'httponly' => true]);
$before = headers_sent() ? 'sent' : 'not sent';
echo "headers were $before\n";
echo 'now ', headers_sent() ? 'sent' : 'not sent', "\n";
