<?php
// An exception nobody catches, with a handler set: the handler's page and status answer.
set_exception_handler(static function (Throwable $e): void {
    http_response_code(503);
    header('X-Handled: yes');
    echo 'handled: ', $e->getMessage();
});
throw new LogicException('not caught');
