<?php
// Reports what arrived in the multipart field "f".
header('Content-Type: application/json');
$f = $_FILES['f'] ?? null;
if ($f === null) {
    echo json_encode(['error' => 'no file']);
    exit;
}
echo json_encode([
    'name' => $f['name'],
    'size' => $f['size'],
    'error' => $f['error'],
    'sha256' => $f['error'] === UPLOAD_ERR_OK ? hash_file('sha256', $f['tmp_name']) : '',
    'note' => $_POST['note'] ?? '',
], JSON_UNESCAPED_SLASHES);
