<?php
// Declares fewer bytes than it writes.
header('Content-Length: 3');
echo 'hello';
