<?php
// Worker mode, Octane-style: one application, bootstrapped once; each request is captured
// fresh, handled, sent and terminated. Between requests the state Octane flushes for a shared
// application is flushed here too: the session store (its attributes would carry over to the
// next client) and the queued cookies.
$app = require __DIR__ . '/bootstrap/app.php';

$kernel = $app->make(Illuminate\Contracts\Http\Kernel::class);
$kernel->bootstrap();

$handler = static function () use ($kernel): void {
    $request = Illuminate\Http\Request::capture();
    $response = $kernel->handle($request);
    $response->send();
    $kernel->terminate($request, $response);
};

while (askr_handle_request($handler)) {
    if ($app->resolved('session')) {
        $app['session']->forgetDrivers();
    }
    if ($app->resolved('cookie')) {
        $app['cookie']->flushQueuedCookies();
    }
    gc_collect_cycles();
}
