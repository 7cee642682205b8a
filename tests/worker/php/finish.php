<?php
// Answers, then keeps running: ?marker=PATH is written 300 ms after the answer is complete.
echo "answered\n";
fastcgi_finish_request();
echo "dropped\n";
usleep(300000);
file_put_contents($_GET['marker'], 'after');
