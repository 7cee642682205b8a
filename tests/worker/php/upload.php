<?php
// For each uploaded file: its name, size, SHA-256 and temporary path.
header('Content-Type: application/json');
$files = [];
foreach ($_FILES as $field => $f) {
    $files[$field] = [
        'name' => $f['name'],
        'size' => $f['size'],
        'error' => $f['error'],
        'sha256' => $f['error'] === UPLOAD_ERR_OK ? hash_file('sha256', $f['tmp_name']) : null,
        'tmp_name' => $f['tmp_name'],
    ];
}
echo json_encode(['files' => $files, 'post' => $_POST]);
