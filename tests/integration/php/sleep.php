<?php
$s = (int)($_GET['s'] ?? 1);
sleep($s);
echo "slept $s\n";
