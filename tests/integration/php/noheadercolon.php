<?php
// header() with a line that is no header field: PHP passes it on as it is, without a colon.
header('Invalid');
header('X-After: kept');
http_response_code(202);
echo "page despite a bad header\n";
