<?php
// A worker script as written for FrankenPHP (the shape of Laravel Octane's FrankenPHP worker):
// it refuses to run outside FrankenPHP's worker mode, then serves with
// frankenphp_handle_request() until told to stop or MAX_REQUESTS is reached. Askr must run it
// unchanged.
if (!($_SERVER['FRANKENPHP_WORKER'] ?? false) || !function_exists('frankenphp_handle_request')) {
    echo "FrankenPHP must be in worker mode to use this script.\n";
    exit(1);
}

ignore_user_abort(true);

$app = require __DIR__ . '/bootstrap/app.php';
$kernel = $app->make(Illuminate\Contracts\Http\Kernel::class);
$kernel->bootstrap();

$handler = static function () use ($kernel): void {
    $request = Illuminate\Http\Request::capture();
    $response = $kernel->handle($request);
    $response->send();
    $kernel->terminate($request, $response);
};

$maxRequests = (int) ($_SERVER['MAX_REQUESTS'] ?? 0);
for ($served = 0; !$maxRequests || $served < $maxRequests; ++$served) {
    $keepRunning = frankenphp_handle_request($handler);
    if ($app->resolved('session')) {
        $app['session']->forgetDrivers();
    }
    if ($app->resolved('cookie')) {
        $app['cookie']->flushQueuedCookies();
    }
    gc_collect_cycles();
    if (!$keepRunning) {
        break;
    }
}
