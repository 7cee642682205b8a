<?php
// Goes on after the client is gone (ignore_user_abort), then writes connection_aborted() to
// ?marker=PATH.
ignore_user_abort(true);
for ($i = 0; $i < 40; $i++) {
    echo str_repeat('x', 1024);
    flush();
    usleep(10000);
}
file_put_contents($_GET['marker'], (string)connection_aborted());
