<?php
// What PHP's stat functions say of the file ?f= names.
$f = $_GET['f'] ?? '';
header('Content-Type: application/json');
echo json_encode(['exists' => file_exists($f), 'size' => @filesize($f)]);
