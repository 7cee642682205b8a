<?php
$c = $_GET['c'] ?? '';
if ($c === '404') {
    header('Status: 404 Not Found');
    echo "not here\n";
} elseif ($c === '418') {
    http_response_code(418);
    echo "teapot\n";
} else {
    echo "ok\n";
}
