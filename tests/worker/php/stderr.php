<?php
error_log('a line for the log');
trigger_error('a warning', E_USER_WARNING);
echo "ok\n";
