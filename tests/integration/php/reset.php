<?php
// 205 Reset Content, with a body the server must not send (RFC 9110 §15.3.6).
http_response_code(205);
header('Content-Length: 11');
echo "reset body\n";
