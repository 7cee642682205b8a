<?php
// Front controller: reports how the request reached it.
header('Content-Type: application/json');
echo json_encode([
    'script' => 'index.php',
    'REQUEST_URI' => $_SERVER['REQUEST_URI'] ?? '',
    'SCRIPT_NAME' => $_SERVER['SCRIPT_NAME'] ?? '',
    'PATH_INFO' => $_SERVER['PATH_INFO'] ?? '',
    'QUERY_STRING' => $_SERVER['QUERY_STRING'] ?? '',
    'x' => $_GET['x'] ?? '',
], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
