<?php
header('Content-Length: 5');
echo 'hello';
