<?php
// ?mb=N: N MiB of a repeating pattern, written 64 KiB at a time.
$mb = (int)($_GET['mb'] ?? 1);
$block = str_repeat('0123456789abcdef', 4096);
for ($i = 0; $i < $mb * 16; $i++) echo $block;
