<?php
// Fields PHP's header() lets through that no client may be sent: a control character in a
// value, a name that is not a token. nginx passes the page on.
http_response_code(201);
header("X-Esc: \x1b[31mred");
header("X(Paren): v");
setrawcookie('raw', "a\x01b");
setcookie('good', 'kept');
header('X-After: kept');
echo "page despite bad fields\n";
