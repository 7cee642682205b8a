<?php
// A cookie of ?kb= KiB (a head that large, as some SSO or cart cookies make it).
setcookie('big', str_repeat('v', (int)($_GET['kb'] ?? 40) * 1024));
echo "big head\n";
