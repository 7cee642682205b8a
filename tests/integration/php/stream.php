<?php
// The first line is flushed at once; the rest follows two seconds later.
header('Content-Type: text/plain');
echo "first line\n";
flush();
sleep(2);
echo "second line\n";
