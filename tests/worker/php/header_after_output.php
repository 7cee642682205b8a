<?php
// A stray newline printed before the headers, as a file with a closing tag and a newline leaves.
echo "\n";
header('Location: /next');
setcookie('seen', '1');
echo 'moved';
