<?php
// header('Content-Type:') is how a script sends no Content-Type at all (php-fpm then writes an
// empty one instead of its default).
header('Content-Type:');
header('X-Empty:');
echo "no type\n";
