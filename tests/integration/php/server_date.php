<?php
// Sets the fields the proxy writes itself: Server and Date.
header('Server: myapp/1.0');
header('Date: Mon, 01 Jan 2024 00:00:00 GMT');
echo "x\n";
