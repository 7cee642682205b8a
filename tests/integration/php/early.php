<?php
// An interim status as the final one: ?s=101 (default 103).
http_response_code((int) ($_GET['s'] ?? 103));
echo "early\n";
