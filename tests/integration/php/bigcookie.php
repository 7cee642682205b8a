<?php
// ?n= cookies (one by default) of ?kb= KiB each (a head that large, as some SSO or cart cookies
// make it).
$n = max(1, (int)($_GET['n'] ?? 1));
for ($i = 0; $i < $n; $i++) {
    setcookie($i ? "big$i" : 'big', str_repeat('v', (int)($_GET['kb'] ?? 40) * 1024));
}
echo "big head\n";
