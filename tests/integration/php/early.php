<?php
// An interim status as the final one.
http_response_code(103);
echo "early\n";
