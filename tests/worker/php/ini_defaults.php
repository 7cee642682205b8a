<?php
// The settings askr-worker defaults to when neither php.ini nor -d gives them, and what they
// show a request.
echo json_encode([
    'argv' => isset($_SERVER['argv']),
    'register_argc_argv' => ini_get('register_argc_argv'),
    'expose_php' => ini_get('expose_php'),
    'zend.assertions' => ini_get('zend.assertions'),
    'error_reporting' => error_reporting(),
    'request' => $_REQUEST,
]), "\n";
