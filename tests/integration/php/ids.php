<?php
// The user and group PHP runs as (real and effective, from /proc: no extension needed), and
// whether it can read the file named by ?file.
$status = file_get_contents('/proc/self/status');
preg_match('/^Uid:\s+(\d+)\s+(\d+)/m', $status, $uid);
preg_match('/^Gid:\s+(\d+)\s+(\d+)/m', $status, $gid);
$read = isset($_GET['file']) ? (@file_get_contents($_GET['file']) === false ? 'denied' : 'read')
                             : '-';
echo "$uid[1] $uid[2] $gid[1] $gid[2] $read\n";
