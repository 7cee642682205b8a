<?php
if (isset($_GET['ms'])) {
  $ms = (int)$_GET['ms'];
  usleep($ms * 1000);
  echo "slept $ms ms\n";
  return;
}
$s = (int)($_GET['s'] ?? 1);
sleep($s);
echo "slept $s\n";
