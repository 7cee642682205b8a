<?php
// Declares more bytes than it writes.
header('Content-Length: 10');
echo 'hello';
