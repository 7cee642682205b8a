<?php
// A worker script that sets its exception handler at boot, as frameworks do: the handler's page
// and status answer what the request handler did not catch.
set_exception_handler(static function (Throwable $e): void {
    http_response_code(503);
    header('X-Handled: yes');
    echo 'handled: ', $e->getMessage();
});

$n = 0;
while (askr_handle_request(static function () use (&$n): void {
    $n++;
    if (($_GET['t'] ?? '') === 'throw') {
        throw new LogicException('thrown in request ' . $n);
    }
    echo 'ok ', $n;
})) {
}
