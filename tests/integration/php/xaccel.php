<?php
// Instructions to nginx in front of PHP: never for the client.
header('X-Accel-Redirect: /internal/secret-invoice-42.pdf');
header('X-Accel-Buffering: no');
header('x-accel-expires: 10');
header('X-Accelerated: not an instruction');
echo "body\n";
