<?php
header('Content-Type: application/json');
echo json_encode([
    'PATH_INFO' => $_SERVER['PATH_INFO'] ?? '',
    'SCRIPT_NAME' => $_SERVER['SCRIPT_NAME'] ?? '',
    'SCRIPT_FILENAME' => $_SERVER['SCRIPT_FILENAME'] ?? '',
    'REQUEST_URI' => $_SERVER['REQUEST_URI'] ?? '',
    'PHP_SELF' => $_SERVER['PHP_SELF'] ?? '',
    'DOCUMENT_URI' => $_SERVER['DOCUMENT_URI'] ?? '',
], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
