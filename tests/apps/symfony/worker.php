<?php
// Worker mode, in the shape of Symfony Runtime's FrankenPHP runner: the kernel boots once; each
// request is handled, sent and terminated; the kernel resets its services (services_resetter)
// when the next request boots it again.
use App\Kernel;
use Symfony\Component\HttpFoundation\Request;

require __DIR__ . '/bootstrap.php';

$kernel = new Kernel('prod', false);
$kernel->boot();

$request = null;
$response = null;
$handler = static function () use ($kernel, &$request, &$response): void {
    $request = Request::createFromGlobals();
    $response = $kernel->handle($request);
    $response->send();
};

while (askr_handle_request($handler)) {
    $kernel->terminate($request, $response);
    $request = $response = null;
    gc_collect_cycles();
}
