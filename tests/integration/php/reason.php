<?php
// A status line with the script's own reason phrase, as Symfony's Response::sendHeaders()
// writes it for setStatusCode(400, 'Invalid token').
$code = (int)($_GET['code'] ?? 400);
$text = $_GET['text'] ?? 'Invalid token';
header("HTTP/1.1 $code $text", true, $code);
echo "reason\n";
