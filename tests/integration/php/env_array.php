<?php
// $_ENV as variables_order (EGPCS, PHP's default) builds it.
header('Content-Type: application/json');
echo json_encode($_ENV, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
