<?php
// A server-sent-events style stream: a part, a pause longer than the client send timeout in
// the tests, then another part.
header('Content-Type: text/event-stream');
echo "data: part1\n\n";
flush();
sleep((int)($_GET['s'] ?? 3));
echo "data: part2\n\n";
