<?php
// error_log() with no error_log file set reaches the web server on the FastCGI stderr stream.
error_log('marker-' . ($_GET['m'] ?? 'none'));
echo "logged\n";
