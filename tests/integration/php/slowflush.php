<?php
// Writes only after the client may have gone away.
usleep(500000);
echo str_repeat('x', 100000);
flush();
echo "done\n";
