<?php
header('Content-Type: application/json');
echo json_encode($_GET, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
