<?php
// The settings askr-worker defaults to when neither php.ini nor -d gives them, and what they
// show a request.
function login($password) {
    throw new RuntimeException('refused');
}
try {
    login('hunter2');
} catch (RuntimeException $e) {
    $trace = $e->getTraceAsString();
}
$sid = session_create_id();
echo json_encode([
    'argv' => isset($_SERVER['argv']),
    'register_argc_argv' => ini_get('register_argc_argv'),
    'expose_php' => ini_get('expose_php'),
    'zend.assertions' => ini_get('zend.assertions'),
    'error_reporting' => error_reporting(),
    'request' => $_REQUEST,
    'args_in_traces' => str_contains($trace, 'hunter2'),
    'enable_dl' => ini_get('enable_dl'),
    'session_gc' => ini_get('session.gc_probability') . '/' . ini_get('session.gc_divisor'),
    'session_id' => strlen($sid) . (preg_match('/^[0-9a-v]+$/', $sid) ? ' base32' : ' other'),
]), "\n";
