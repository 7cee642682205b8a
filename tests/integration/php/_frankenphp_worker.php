<?php
// A FrankenPHP worker script, in the shape of FrankenPHP's documentation ("Custom Apps"),
// using the functions FrankenPHP documents.
ignore_user_abort(true);

$boot = ['worker' => $_SERVER['FRANKENPHP_WORKER'] ?? null,
         'has_handle' => function_exists('frankenphp_handle_request')];
$log = [];

$handler = static function () use ($boot, &$log): void {
    header('Link: </style.css>; rel=preload; as=style');
    $early = headers_send(103);
    header('X-Answer: 42');
    header('Content-Type: application/json');
    $request = frankenphp_request_headers();
    echo json_encode([
        'boot' => $boot,
        'worker' => $_SERVER['FRANKENPHP_WORKER'] ?? null,
        'early' => $early,
        'request' => ['x-probe' => $request['X-Probe'] ?? null],
        'apache' => apache_request_headers() === $request,
        'response' => frankenphp_response_headers(),
        'apache_response' => apache_response_headers() === frankenphp_response_headers(),
        'previous' => $log,
    ]);
    frankenphp_finish_request();
    $log[] = 'terminated';  // after the answer went out
};

$maxRequests = (int) ($_SERVER['MAX_REQUESTS'] ?? 0);
for ($nbRequests = 0; !$maxRequests || $nbRequests < $maxRequests; ++$nbRequests) {
    $keepRunning = \frankenphp_handle_request($handler);
    gc_collect_cycles();
    if (!$keepRunning) {
        break;
    }
}
