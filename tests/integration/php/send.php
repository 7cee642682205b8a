<?php
// Sends the file ?path= (test data) with readfile(). ?cl=1 announces its length; ?declare=N
// announces N bytes instead.
$path = $_GET['path'] ?? '';
header('Content-Type: application/octet-stream');
if (isset($_GET['declare'])) {
    header('Content-Length: ' . (int)$_GET['declare']);
} elseif (isset($_GET['cl'])) {
    header('Content-Length: ' . filesize($path));
}
readfile($path);
