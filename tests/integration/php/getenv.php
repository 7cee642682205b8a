<?php
// The process environment as getenv() sees it.
header('Content-Type: application/json');
echo json_encode(getenv(), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
