<?php
// The length and MD5 of the X-Big request header, as the script sees it.
$v = $_SERVER['HTTP_X_BIG'] ?? '';
echo strlen($v), ' ', md5($v), "\n";
