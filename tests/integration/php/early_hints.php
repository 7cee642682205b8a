<?php
// FrankenPHP's Early Hints: headers_send(103) twice, then the page.
header('Link: </style.css>; rel=preload; as=style');
$a = headers_send(103);
header('Link: </app.js>; rel=preload; as=script', false);
$b = headers_send(103);
header('Content-Type: text/plain');
echo "page $a $b\n";
