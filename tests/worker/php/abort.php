<?php
// Writes a byte every 50 ms for 5 s; ?marker=PATH is written only if it gets to the end.
for ($i = 0; $i < 100; $i++) {
    echo 'x';
    flush();
    usleep(50000);
}
file_put_contents($_GET['marker'], 'completed');
